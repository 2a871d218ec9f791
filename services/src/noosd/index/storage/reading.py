"""Reading a file to index it, safely: whatever is at a path, nothing blocks,
nothing too large is read, no link is followed, and every refusal says why.

The file's directory is reached without following a link in any component
(`walking`), and the file is lstat'ed there: only a regular file is read (a
symbolic link is indexed where it points, if at all; a FIFO would block the
reader forever), and a file larger than `SizeLimits` allows is refused by its
size alone, never read (a 2 GB sparse file costs one stat). It is then opened
relative to that directory, without following a link and without blocking,
and fstat'ed: a file swapped in between (a rename over it) has another device
and inode, and is refused. For a caller, the read bits are decided on that
fstat, so that the file checked is the file read; its metadata (owner, mode,
device, inode) are stored with what was read. At most the limit and one byte
is read, so a file that grew meanwhile is still refused by size.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from noos.protocol.errors import PermissionDenied
from noosd.index.core.filetypes import FileType, Format, file_type
from noosd.index.core.ignore import SizeLimits
from noosd.index.core.metadata import FileMetadata
from noosd.index.storage.access import Caller, permits
from noosd.index.storage.walking import VANISHED, ParentDirectory, Refused, describe

__all__ = ["VANISHED", "FileContent", "Refused", "check_may_read", "read_file", "why_refused"]

# Bytes of a file's beginning that name its type (a shebang).
HEAD_BYTES = 256


@dataclass(frozen=True)
class FileContent:
    """A regular file's metadata (from the descriptor it was read through),
    its type and its bytes."""

    metadata: FileMetadata
    file_type: FileType
    data: bytes


def why_refused(status: os.stat_result, path: Path, limits: SizeLimits) -> str | None:
    """Why a file with this lstat result is not read, or None when it is."""
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file" + (" (a symbolic link)" if stat.S_ISLNK(status.st_mode) else "")
    # The type by name alone: a shebang never changes the size limit (only a PDF has its own).
    return limits.why_too_large(status.st_size, file_type(path))


def check_may_read(status: os.stat_result, path: Path, caller: Caller | None) -> None:
    """PermissionDenied unless `caller` (None: the service itself) may read the
    file whose stat is `status`."""
    if caller is not None and not permits(status, caller, os.R_OK):
        raise PermissionDenied(f"uid {caller.uid} may not read {path}")


def read_file(
    path: Path,
    parent: ParentDirectory,
    status: os.stat_result,
    limits: SizeLimits,
    caller: Caller | None = None,
) -> FileContent | Refused:
    """The content of the regular file at `path`, in `parent`, that `status`
    (its lstat there) describes; PermissionDenied when `caller` may not read it."""
    refused = why_refused(status, path, limits)
    if refused is not None:
        return Refused(refused)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(parent.name, flags, dir_fd=parent.descriptor)
    except (FileNotFoundError, NotADirectoryError):
        return Refused(VANISHED)
    except OSError as error:
        # ELOOP: a symbolic link was renamed over the file since the lstat.
        return Refused(f"unreadable ({describe(error)})")
    with os.fdopen(descriptor, "rb") as opened:
        try:
            opened_status = os.fstat(descriptor)
            opened_identity = (opened_status.st_dev, opened_status.st_ino)
            if opened_identity != (status.st_dev, status.st_ino):
                return Refused("replaced while it was opened")
            refused = why_refused(opened_status, path, limits)
            if refused is not None:
                return Refused(refused)
            check_may_read(opened_status, path, caller)
            data = opened.read(_read_limit(path, limits) + 1)
        except OSError as error:
            return Refused(f"unreadable ({describe(error)})")
    if len(data) > _read_limit(path, limits):
        return Refused(f"grew past the size limit while read ({len(data)}+ bytes)")
    found = file_type(path, data[:HEAD_BYTES])
    return FileContent(FileMetadata.of(path, opened_status, found), found, data)


def _read_limit(path: Path, limits: SizeLimits) -> int:
    """The largest size `limits.why_too_large` accepts for the type of this name."""
    return limits.max_pdf_bytes if file_type(path).format is Format.PDF else limits.max_text_bytes
