"""Option tables: the keys an `a{sv}` argument takes, each with its D-Bus type and meaning.

Options are `a{sv}` so that busctl and gdbus users can leave out what they
don't need. A table is the one place a key is spelled: the client encodes
plain values with it, the service checks and decodes what came with it, the
introspection XML carries it as annotations, and the D-Bus reference is
written from it. The same tables describe the keys of the `a{sv}` a service
sends back (a job's info, a memory's details).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant

from noos.protocol.errors import InvalidArgument

# Any integer type stands for any other: busctl users type what is handy
# (`i 5` for a `u`), and the value is checked where it is used.
INTEGER_SIGNATURES = frozenset("ynqiuxt")
# The introspection annotation of a key `name` that a caller gives is
# OPTION_ANNOTATION + name; of one that the service sends, FIELD_ANNOTATION + name.
OPTION_ANNOTATION = "org.noos.Option."
FIELD_ANNOTATION = "org.noos.Field."


@dataclass(frozen=True)
class Option:
    """One key of an `a{sv}`: its name, its D-Bus type, and what it means."""

    name: str
    signature: str
    meaning: str

    def variant(self, value: Any) -> Variant:
        """`value` as a Variant of this key's type (5 stands for 5.0 where a `d` is due)."""
        if isinstance(value, Variant):
            return value
        if self.signature == "d":
            return Variant("d", float(value))
        if self.signature in INTEGER_SIGNATURES:
            return Variant(self.signature, int(value))
        if self.signature == "s":
            return Variant("s", str(value))
        if self.signature == "b":
            return Variant("b", bool(value))
        if self.signature.startswith("a") and not self.signature.startswith("a{"):
            return Variant(self.signature, list(value))
        return Variant(self.signature, value)

    def annotation(self, prefix: str = OPTION_ANNOTATION) -> tuple[str, str]:
        """The introspection annotation that tells a user of busctl about this key."""
        return prefix + self.name, f"{self.signature}: {self.meaning}"


class OptionTable:
    """The keys one `a{sv}` takes; `what` names a key in errors ("option", "filter")."""

    def __init__(self, what: str, *options: Option) -> None:
        self.what = what
        self.options: dict[str, Option] = {option.name: option for option in options}

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options.values())

    def __contains__(self, name: object) -> bool:
        return name in self.options

    def __getitem__(self, name: str) -> Option:
        return self.options[name]

    def names(self) -> list[str]:
        return list(self.options)

    def subset(self, what: str, *names: str) -> OptionTable:
        """The table of the keys `names` of this one (the same meanings)."""
        return OptionTable(what, *(self.options[name] for name in names))

    def encode(self, values: Mapping[str, Any]) -> dict[str, Variant]:
        """The `a{sv}` of `values` (a client's, or a service's reply); None means left out.

        A key the table lacks is a TypeError: a bug of the caller's code."""
        encoded: dict[str, Variant] = {}
        for name, value in values.items():
            option = self.options.get(name)
            if option is None:
                known = ", ".join(self.options)
                raise TypeError(f"unknown {self.what} {name!r}; the {self.what}s are {known}")
            if value is not None:
                encoded[name] = option.variant(value)
        return encoded

    def decode(self, given: Mapping[str, Variant]) -> dict[str, Any]:
        """The plain values of `given`, each of a known name and D-Bus type (a service's check).

        An unknown key, or a value of the wrong type, is an InvalidArgument that
        says what was expected."""
        values: dict[str, Any] = {}
        for name, variant in given.items():
            option = self.options.get(name)
            if option is None:
                known = ", ".join(sorted(self.options)) or "none"
                raise InvalidArgument(f"unknown {self.what} {name!r} (known: {known})")
            expected = option.signature
            if expected in INTEGER_SIGNATURES and variant.signature in INTEGER_SIGNATURES:
                values[name] = int(variant.value)
            elif (variant.signature in INTEGER_SIGNATURES and expected == "d") or (
                variant.signature == expected
            ):
                values[name] = variant.value
            else:
                raise InvalidArgument(
                    f"{self.what} {name!r} must have D-Bus type {expected!r}, "
                    f"not {variant.signature!r}"
                )
        return values

    def annotations(self, prefix: str = OPTION_ANNOTATION) -> dict[str, str]:
        """The introspection annotations of every key, in the table's order."""
        return dict(option.annotation(prefix) for option in self)


@dataclass(frozen=True)
class InterfaceKeys:
    """The `a{sv}`s of one interface that have keys, and their tables.

    `arguments`: what a caller gives, by (method, argument name). `replies`:
    what the service sends, by member: a method's reply, a property's value or
    a signal's body (the `a{sv}` in it, where it sits inside a struct).
    """

    interface: str
    arguments: Mapping[tuple[str, str], OptionTable]
    replies: Mapping[str, OptionTable]


def plain(values: Mapping[str, Variant]) -> dict[str, Any]:
    """The values of an `a{sv}` a service sent, unwrapped; keys newer than the
    client's tables come through as well."""
    return {key: variant.value for key, variant in values.items()}
