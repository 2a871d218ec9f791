"""Checks of what callers pass in; each refuses bad input with `InvalidArgument`.

The D-Bus facade can reuse these to convert its arguments: they take plain
Python objects (what dbus-fast unpacks from variants) and return the checked,
normalised value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from noos.protocol.errors import InvalidArgument
from noosd.memory.core.kinds import KINDS
from noosd.memory.core.model import MetadataValue

MAX_UID = 2**32 - 1
MAX_METADATA_ENTRIES = 32
MAX_METADATA_VALUE_BYTES = 1024
# An identifier of up to 64 characters: it is a filter key and travels in D-Bus dicts.
METADATA_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# SQLite stores integers in 64 bits.
_INT64 = (-(2**63), 2**63 - 1)


def uid(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UID:
        raise InvalidArgument(f"a uid must be an integer in [0, {MAX_UID}], not {value!r}")
    return value


def text(value: object, max_bytes: int, what: str = "text") -> str:
    """A non-blank string of at most max_bytes in UTF-8."""
    if not isinstance(value, str):
        raise InvalidArgument(f"the {what} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidArgument(f"the {what} must not be empty or only whitespace")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(f"the {what} is not valid Unicode (lone surrogates)") from None
    if size > max_bytes:
        raise InvalidArgument(f"the {what} is {size} bytes in UTF-8; the most is {max_bytes}")
    return value


def kind(value: object) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise InvalidArgument(f"unknown kind {value!r}; the kinds are {', '.join(sorted(KINDS))}")
    return value


def kinds(values: object) -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, list | tuple | set | frozenset):
        raise InvalidArgument(f"kinds must be a list of kinds, not {values!r}")
    return frozenset(kind(value) for value in values)


def importance(value: object) -> float | None:
    """An importance hint in [0, 1], or None for the kind's default."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"an importance must be a number in [0, 1], not {value!r}")
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise InvalidArgument(f"an importance must be in [0, 1], not {value!r}")
    return float(value)


def limit(value: object, max_limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_limit:
        raise InvalidArgument(f"a limit must be an integer in [1, {max_limit}], not {value!r}")
    return value


def timestamp(value: object, what: str) -> float | None:
    """A time in seconds since the epoch, or None for no bound."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{what} must be a finite number of seconds, not {value!r}")
    return float(value)


def metadata_value(key: str, value: object) -> MetadataValue:
    """A str, int, float or bool that SQLite and JSON keep exactly."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InvalidArgument(f"metadata {key!r}: the integer {value} does not fit 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"metadata {key!r}: {value} is not a finite number")
        return value
    if isinstance(value, str):
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgument(f"metadata {key!r}: not valid Unicode") from None
        if size > MAX_METADATA_VALUE_BYTES:
            raise InvalidArgument(
                f"metadata {key!r}: {size} bytes; the most is {MAX_METADATA_VALUE_BYTES}"
            )
        return value
    raise InvalidArgument(
        f"metadata {key!r}: a value must be a str, int, float or bool, not {type(value).__name__}"
    )


def metadata(values: object) -> dict[str, MetadataValue]:
    """A mapping of identifiers to str, int, float or bool."""
    if not isinstance(values, Mapping):
        raise InvalidArgument(f"metadata must be a mapping, not {type(values).__name__}")
    if len(values) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(
            f"metadata has {len(values)} entries; the most is {MAX_METADATA_ENTRIES}"
        )
    checked: dict[str, MetadataValue] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not METADATA_KEY.fullmatch(key):
            raise InvalidArgument(
                f"metadata key {key!r} is not an identifier of at most 64 characters"
            )
        checked[key] = metadata_value(key, value)
    return checked
