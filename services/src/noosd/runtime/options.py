"""`options_of`: the `a{sv}` options of a method call, checked and made plain.

Options are `a{sv}` so that busctl and gdbus users can leave out what they
don't need; each name has one D-Bus type, and a wrong name or type is an
InvalidArgument that says what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbus_fast import Variant

from noos.protocol.errors import InvalidArgument

# Any integer type stands for any other: busctl users type what is handy
# (`i 5` for a `u`), and the value is checked where it is used.
INTEGER_SIGNATURES = frozenset("ynqiuxt")


def options_of(
    given: Mapping[str, Variant], allowed: Mapping[str, str], what: str = "option"
) -> dict[str, Any]:
    """The plain values of `given`, each of a known name and D-Bus type."""
    values: dict[str, Any] = {}
    for name, variant in given.items():
        expected = allowed.get(name)
        if expected is None:
            known = ", ".join(sorted(allowed)) or "none"
            raise InvalidArgument(f"unknown {what} {name!r} (known: {known})")
        if expected in INTEGER_SIGNATURES and variant.signature in INTEGER_SIGNATURES:
            values[name] = int(variant.value)
        elif (variant.signature in INTEGER_SIGNATURES and expected == "d") or (
            variant.signature == expected
        ):
            values[name] = variant.value
        else:
            raise InvalidArgument(
                f"{what} {name!r} must have D-Bus type {expected!r}, not {variant.signature!r}"
            )
    return values
