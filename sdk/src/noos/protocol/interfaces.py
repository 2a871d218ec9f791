"""Every noos interface's keyed `a{sv}`s, by interface name: for introspection and the docs."""

from __future__ import annotations

from noos.protocol import index, memory, scheduler, service, system
from noos.protocol.options import InterfaceKeys

INTERFACE_KEYS: dict[str, InterfaceKeys] = {
    keys.interface: keys
    for keys in (
        memory.KEYS,
        index.KEYS,
        scheduler.KEYS,
        scheduler.JOB_KEYS,
        system.KEYS,
        service.KEYS,
    )
}
