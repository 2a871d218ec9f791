"""Free space on a service's state file system, checked before writing.

SQLite fails cleanly on a full disk (`sqlite.is_disk_full`); the chromadb of
this image does not: its writes hang once the disk is full (seen in the fault
tests). A service therefore refuses a write while the file system holding its
state has no more than a reserve free, before it touches either, with
`DiskFull` (an `Unavailable`: retry); work of its own (an index's crawl)
waits `ROOM_RETRY_S` and tries again.
"""

from __future__ import annotations

import os
from pathlib import Path

from noos.protocol.errors import Unavailable

# Free bytes a service keeps on its state's file system unless set otherwise
# (`min_free_bytes`, as memory's pure config says too): room for the ends of
# the calls under way, and for everyone else on the machine.
DEFAULT_MIN_FREE_BYTES = 128 * 1024**2
# How often work of a service's own that found the disk full looks again:
# a statvfs(2) is cheap, and a user who freed space sees their files
# indexed within seconds.
ROOM_RETRY_S = 5.0


class DiskFull(Unavailable):
    """A write refused (or failed) for want of space where `what` is kept;
    nothing of it was written. org.noos.Error.Unavailable on the bus."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the disk that holds {what} is full; nothing of this call was "
            "stored: retry once space is freed"
        )


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on `path`'s file system."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def has_room(path: Path, reserve: int) -> bool:
    """Whether `path`'s file system has more than `reserve` bytes free."""
    return free_bytes(path) > reserve


def ensure_room(path: Path, reserve: int, what: str) -> None:
    """`DiskFull` unless `path`'s file system has more than `reserve` bytes free."""
    if not has_room(path, reserve):
        raise DiskFull(what)
