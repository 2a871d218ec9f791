"""Reading a file to index it, safely: whatever is at a path, nothing blocks,
nothing too large is read, and every refusal says why.

The path is lstat'ed first: only a regular file is read (a symbolic link is
indexed where it points, if at all; a FIFO would block the reader forever),
and a file larger than `SizeLimits` allows is refused by its size alone, never
read (a 2 GB sparse file costs one stat). It is then opened without following
a link and without blocking, and fstat'ed, so that a file swapped in between
(a rename over it) is noticed; at most the limit and one byte is read, so a
file that grew meanwhile is still refused by size.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from noosd.index.core.filetypes import FileType, Format, file_type
from noosd.index.core.ignore import SizeLimits
from noosd.index.core.metadata import FileMetadata

# What a file that is not there any more is skipped for.
VANISHED = "vanished"
# Bytes of a file's beginning that name its type (a shebang).
HEAD_BYTES = 256


@dataclass(frozen=True)
class FileContent:
    """A regular file's metadata (from the descriptor it was read through),
    its type and its bytes."""

    metadata: FileMetadata
    file_type: FileType
    data: bytes


@dataclass(frozen=True)
class Refused:
    """Why a path was not read: `VANISHED`, or a reason worth recording."""

    reason: str

    @property
    def vanished(self) -> bool:
        return self.reason == VANISHED


def stat_path(path: Path) -> os.stat_result | Refused:
    """lstat(2) of the path, or why it cannot be indexed."""
    try:
        return path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return Refused(VANISHED)
    except ValueError as error:
        # A NUL byte in the name: no file can have it.
        return Refused(f"an invalid path ({error})")
    except OSError as error:
        return Refused(f"unreadable ({_describe(error)})")


def why_refused(status: os.stat_result, path: Path, limits: SizeLimits) -> str | None:
    """Why a file with this lstat result is not read, or None when it is."""
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file" + (" (a symbolic link)" if stat.S_ISLNK(status.st_mode) else "")
    # The type by name alone: a shebang never changes the size limit (only a PDF has its own).
    return limits.why_too_large(status.st_size, file_type(path))


def read_file(path: Path, status: os.stat_result, limits: SizeLimits) -> FileContent | Refused:
    """The content of the regular file that `status` (its lstat) describes."""
    refused = why_refused(status, path, limits)
    if refused is not None:
        return Refused(refused)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return Refused(VANISHED)
    except OSError as error:
        # ELOOP: a symbolic link was renamed over the file since the lstat.
        return Refused(f"unreadable ({_describe(error)})")
    with os.fdopen(descriptor, "rb") as opened:
        try:
            opened_status = os.fstat(descriptor)
            refused = why_refused(opened_status, path, limits)
            if refused is not None:
                return Refused(refused)
            data = opened.read(_read_limit(path, limits) + 1)
        except OSError as error:
            return Refused(f"unreadable ({_describe(error)})")
    if len(data) > _read_limit(path, limits):
        return Refused(f"grew past the size limit while read ({len(data)}+ bytes)")
    found = file_type(path, data[:HEAD_BYTES])
    return FileContent(FileMetadata.of(path, opened_status, found), found, data)


def _read_limit(path: Path, limits: SizeLimits) -> int:
    """The largest size `limits.why_too_large` accepts for the type of this name."""
    return limits.max_pdf_bytes if file_type(path).format is Format.PDF else limits.max_text_bytes


def _describe(error: OSError) -> str:
    return f"{type(error).__name__}: {error.strerror or error}"
