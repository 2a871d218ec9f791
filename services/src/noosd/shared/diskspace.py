"""Free space on a service's state file system, checked before writing.

SQLite fails cleanly on a full disk (`sqlite.is_disk_full`); the chromadb of
this image does not: its writes hang once the disk is full (seen in the fault
tests). A service therefore refuses a write while the file system holding its
state has no more than a reserve free, before it touches either.
"""

from __future__ import annotations

import os
from pathlib import Path


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on `path`'s file system."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def has_room(path: Path, reserve: int) -> bool:
    """Whether `path`'s file system has more than `reserve` bytes free."""
    return free_bytes(path) > reserve
