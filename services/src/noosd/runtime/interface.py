"""`NoosInterface`: a `ServiceInterface` whose introspection says what each `a{sv}` holds.

An `a{sv}` tells busctl and gdbus users nothing of its keys. The protocol's
option tables do (`noos.protocol`), so the introspection of a noos interface
carries them as annotations, `org.noos.Option.<key>` on an argument a caller
gives and `org.noos.Field.<key>` on what the service sends, each valued
"<D-Bus type>: <meaning>". Each member carries the first paragraph of its
docstring as `org.gtk.GDBus.DocString` (gdbus-codegen's name for it). Both the
live `Introspect` and the shipped XML files are built by `introspect()`, so
they say the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

from dbus_fast import introspection as intr
from dbus_fast.service import ServiceInterface

from noos.protocol.interfaces import INTERFACE_KEYS
from noos.protocol.options import FIELD_ANNOTATION, OPTION_ANNOTATION, InterfaceKeys, OptionTable

DOC_ANNOTATION = "org.gtk.GDBus.DocString"
NO_KEYS = InterfaceKeys("", arguments={}, replies={})


class NoosInterface(ServiceInterface):
    """The base of every noos facade: the protocol's keys in its introspection."""

    def introspect(self) -> intr.Interface:
        keys = INTERFACE_KEYS.get(self.name, NO_KEYS)
        return annotated(super().introspect(), keys, member_docs(self))


def member_docs(interface: ServiceInterface) -> dict[str, str]:
    """The docstring of each D-Bus member of `interface`, by member name: its
    first paragraph, on one line."""
    docs = {method.name: method.fn.__doc__ for method in ServiceInterface._get_methods(interface)}
    for prop in ServiceInterface._get_properties(interface):
        docs[prop.name] = prop.fget.__doc__
    for signal in ServiceInterface._get_signals(interface):
        docs[signal.name] = getattr(getattr(type(interface), signal.name, None), "__doc__", None)
    return {
        name: " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
        for name, doc in docs.items()
        if doc
    }


def with_doc(annotations: Mapping[str, str], doc: str | None) -> dict[str, str]:
    return {**annotations, **({DOC_ANNOTATION: doc} if doc else {})}


def annotated(
    interface: intr.Interface, keys: InterfaceKeys, docs: Mapping[str, str]
) -> intr.Interface:
    """A copy of `interface` with the annotations of `keys` and `docs`.

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
            annotations=with_doc(method.annotations, docs.get(method.name)),
        )
        for method in interface.methods
    ]
    signals = [
        intr.Signal(
            signal.name,
            [with_keys(arg, replies.get(signal.name), FIELD_ANNOTATION) for arg in signal.args],
            annotations=with_doc(signal.annotations, docs.get(signal.name)),
        )
        for signal in interface.signals
    ]
    properties = [
        intr.Property(
            prop.name,
            prop.signature,
            prop.access,
            annotations=with_doc(
                {
                    **prop.annotations,
                    **keyed(prop.signature, replies.get(prop.name), FIELD_ANNOTATION),
                },
                docs.get(prop.name),
            ),
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
