"""Memory ids: 63-bit integers in storage, 16 hex digits outside.

An id is the SQLite rowid of its memory, so it costs no index of its own. Ids
grow with time (milliseconds in the high bits, until the year 2248) so that
new rows append to the B-tree rather than split its pages, and are strictly
increasing within a user: consolidation finds the memories added since its
last run by id alone.
"""

from __future__ import annotations

import re
import secrets
import time

_PUBLIC = re.compile(r"[0-9a-f]{16}")
_LOW_BITS = 20
_MAX = 2**63 - 1


def format_id(value: int) -> str:
    return f"{value:016x}"


def parse_id(value: object) -> int | None:
    """The integer id written as `value`, or None if it is not an id."""
    if not isinstance(value, str) or not _PUBLIC.fullmatch(value):
        return None
    parsed = int(value, 16)
    return parsed if parsed <= _MAX else None


class IdAllocator:
    """Strictly increasing ids, starting above the largest one already stored."""

    def __init__(self, largest_used: int) -> None:
        self._last = largest_used

    def allocate(self) -> int:
        # Wall time, not the store's clock: ids carry no meaning, only order.
        fresh = (time.time_ns() // 1_000_000) << _LOW_BITS | secrets.randbits(_LOW_BITS)
        self._last = max(self._last + 1, fresh)
        return self._last
