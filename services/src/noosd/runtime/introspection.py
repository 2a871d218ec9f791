"""The introspection XML of a service's interfaces, as shipped in /usr/share/dbus-1/interfaces."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from dbus_fast import introspection
from dbus_fast.service import ServiceInterface

from noosd.runtime.service import Service

DOCTYPE = (
    '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
    ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
)


def interface_xml(interface: ServiceInterface) -> str:
    """The introspection XML of one interface, as a node of its own."""
    node = introspection.Node(interfaces=[interface.introspect()]).to_xml()
    ET.indent(node)
    return DOCTYPE + ET.tostring(node, encoding="unicode") + "\n"


def write_interfaces(service: Service, directory: Path) -> list[Path]:
    """Write `<interface name>.xml` for each interface of `service` into `directory`."""
    written = []
    for interface in [*service.interfaces(), *service.other_interfaces()]:
        path = directory / f"{interface.name}.xml"
        path.write_text(interface_xml(interface))
        written.append(path)
    return written
