"""The D-Bus reference of the noos services (docs/dbus.md), written from their introspection.

Read from the shipped introspection XML beside each service (which a test
keeps equal to what the live services say), so the reference is what
`busctl introspect` shows: every method, argument, property and signal, and
the annotations that name each `a{sv}`'s keys with their type and meaning.

    python -m noosd.runtime.reference docs/dbus.md
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from dbus_fast import introspection as intr

import noosd
from noos.protocol import index, memory, scheduler, system
from noos.protocol.options import FIELD_ANNOTATION, OPTION_ANNOTATION
from noosd.runtime.generated import write_or_print
from noosd.runtime.interface import DOC_ANNOTATION

COMMAND = "python -m noosd.runtime.reference docs/dbus.md"

# Where each interface is found: its bus name and object path.
PLACES: dict[str, tuple[str, str]] = {
    **{
        protocol.INTERFACE: (protocol.BUS_NAME, protocol.OBJECT_PATH)
        for protocol in (memory, index, scheduler, system)
    },
    scheduler.JOB_INTERFACE: (scheduler.BUS_NAME, f"{scheduler.JOBS_PATH}/<id>"),
}


def shipped_interfaces() -> list[tuple[str, intr.Interface]]:
    """Every shipped interface, with the folder it ships in (a service's, or `runtime`)."""
    found = []
    for path in sorted(Path(noosd.__file__).parent.glob("*/org.noos.*.xml")):
        for interface in intr.Node.parse(path.read_text()).interfaces:
            found.append((path.parent.name, interface))
    # The runtime's interface, on every service, comes after the services' own.
    return sorted(found, key=lambda item: (item[0] == "runtime", item[0], item[1].name))


def reference() -> str:
    """docs/dbus.md, as the shipped introspection says it."""
    lines = [
        "# The noos D-Bus reference",
        "",
        "Generated from the services' introspection by",
        f"`{COMMAND}`: do not edit it by hand (a unit",
        "test fails when it is out of date). Errors are named",
        "`org.noos.Error.<Name>` (`noos.protocol.errors`). Keys of an `a{sv}` that",
        f"a caller gives are annotated `{OPTION_ANNOTATION}<key>`, keys the service",
        f'sends `{FIELD_ANNOTATION}<key>`, each valued "<type>: <meaning>".',
    ]
    for folder, interface in shipped_interfaces():
        lines += ["", *interface_section(folder, interface)]
    return "\n".join(lines) + "\n"


def interface_section(folder: str, interface: intr.Interface) -> list[str]:
    if folder == "runtime":
        served = "Served by the runtime of every noos service, at the service's object path."
    else:
        bus_name, path = PLACES.get(interface.name, ("?", "?"))
        served = f"Served by `noosd {folder}` on bus name `{bus_name}`, at `{path}`."
    lines = [f"## {interface.name}", "", served]
    if interface.methods:
        lines += ["", "### Methods"]
        for method in sorted(interface.methods, key=lambda m: m.name):
            ins = ", ".join(f"{arg.name}: {arg.signature}" for arg in method.in_args)
            outs = ", ".join(str(arg.signature) for arg in method.out_args)
            lines += ["", f"#### `{method.name}({ins})" + (f" → {outs}`" if outs else "`")]
            lines += doc_of(method.annotations)
            for arg in method.in_args:
                lines += keys_table(f"`{arg.name}` takes", arg.annotations, OPTION_ANNOTATION)
            for arg in method.out_args:
                lines += keys_table("The reply holds", arg.annotations, FIELD_ANNOTATION)
    if interface.properties:
        lines += ["", "### Properties", "", "| Property | Type | Access | Meaning |"]
        lines.append("|---|---|---|---|")
        for prop in sorted(interface.properties, key=lambda p: p.name):
            meaning = prop.annotations.get(DOC_ANNOTATION, "")
            lines.append(
                f"| `{prop.name}` | `{prop.signature}` | {prop.access.value} | {meaning} |"
            )
        for prop in sorted(interface.properties, key=lambda p: p.name):
            lines += keys_table(f"`{prop.name}` holds", prop.annotations, FIELD_ANNOTATION)
    if interface.signals:
        lines += ["", "### Signals"]
        for signal in sorted(interface.signals, key=lambda s: s.name):
            args = ", ".join(
                f"{arg.name}: {arg.signature}" if arg.name else str(arg.signature)
                for arg in signal.args
            )
            lines += ["", f"#### `{signal.name}({args})`", *doc_of(signal.annotations)]
            for arg in signal.args:
                lines += keys_table("It carries", arg.annotations, FIELD_ANNOTATION)
    return lines


def doc_of(annotations: dict[str, str]) -> list[str]:
    doc = annotations.get(DOC_ANNOTATION)
    return ["", doc] if doc else []


def keys_table(heading: str, annotations: dict[str, str], prefix: str) -> list[str]:
    """A table of the keys `annotations` name under `prefix`; nothing when there are none."""
    rows = list(key_rows(annotations, prefix))
    if not rows:
        return []
    return ["", f"{heading}:", "", "| Key | Type | Meaning |", "|---|---|---|", *rows]


def key_rows(annotations: dict[str, str], prefix: str) -> Iterable[str]:
    for name, value in annotations.items():
        if name.startswith(prefix):
            signature, _, meaning = value.partition(": ")
            yield f"| `{name.removeprefix(prefix)}` | `{signature}` | {meaning} |"


def main(argv: list[str]) -> int:
    return write_or_print(reference(), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
