"""`NoosInterface`: a `ServiceInterface` whose introspection says what each `a{sv}` holds.

An `a{sv}` tells busctl and gdbus users nothing of its keys. The protocol's
option tables do (`noos.protocol`), so the introspection of a noos interface
carries them as annotations, `org.noos.Option.<key>` on an argument a caller
gives and `org.noos.Field.<key>` on what the service sends, each valued
"<D-Bus type>: <meaning>". Both the live `Introspect` and the shipped XML
files are built by `introspect()`, so they say the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbus_fast import introspection as intr
from dbus_fast.service import ServiceInterface

from noos.protocol.interfaces import INTERFACE_KEYS
from noos.protocol.options import FIELD_ANNOTATION, OPTION_ANNOTATION, InterfaceKeys, OptionTable


class NoosInterface(ServiceInterface):
    """The base of every noos facade: the protocol's keys in its introspection."""

    def introspect(self) -> intr.Interface:
        interface = super().introspect()
        keys = INTERFACE_KEYS.get(self.name)
        if keys is None:
            return interface
        return annotated(interface, keys)


def annotated(interface: intr.Interface, keys: InterfaceKeys) -> intr.Interface:
    """A copy of `interface` with the annotations of `keys`.

    A copy, because dbus-fast keeps one introspection object per member and
    hands out that very object."""
    replies = keys.replies
    methods = [
        intr.Method(
            method.name,
            in_args=[
                with_keys(arg, keys.arguments.get((method.name, arg.name or "")), OPTION_ANNOTATION)
                for arg in method.in_args
            ],
            out_args=[
                with_keys(arg, replies.get(method.name), FIELD_ANNOTATION)
                for arg in method.out_args
            ],
            annotations=dict(method.annotations),
        )
        for method in interface.methods
    ]
    signals = [
        intr.Signal(
            signal.name,
            [with_keys(arg, replies.get(signal.name), FIELD_ANNOTATION) for arg in signal.args],
            annotations=dict(signal.annotations),
        )
        for signal in interface.signals
    ]
    properties = [
        intr.Property(
            prop.name,
            prop.signature,
            prop.access,
            annotations={
                **prop.annotations,
                **keyed(prop.signature, replies.get(prop.name), FIELD_ANNOTATION),
            },
        )
        for prop in interface.properties
    ]
    return intr.Interface(
        interface.name,
        methods=methods,
        signals=signals,
        properties=properties,
        annotations=dict(interface.annotations),
    )


def with_keys(arg: intr.Arg, table: OptionTable | None, prefix: str) -> intr.Arg:
    return intr.Arg(
        arg.signature,
        arg.direction,
        arg.name,
        annotations={**arg.annotations, **keyed(str(arg.signature), table, prefix)},
    )


def keyed(signature: str, table: OptionTable | None, prefix: str) -> Mapping[str, str]:
    """The annotations of `table`'s keys, for a value of type `signature` that holds an a{sv}."""
    if table is None or "a{sv}" not in signature:
        return {}
    return table.annotations(prefix)
