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

The file stays open while it is indexed (`open_file`), and is never held in
memory whole unless it is text (a few MiB at most): a file's hash is taken a
block at a time, and a PDF is handed to pypdf as the open file, which reads
the objects it needs (`chunk_pdf`), so a 64 MiB PDF costs its extracted text,
not its bytes.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from noos.protocol.errors import PermissionDenied
from noosd.index.core.chunking import content_hasher
from noosd.index.core.filetypes import FileType, Format, file_type
from noosd.index.core.ignore import SizeLimits
from noosd.index.core.metadata import FileMetadata
from noosd.index.storage.access import Caller, permits
from noosd.index.storage.walking import VANISHED, ParentDirectory, Refused, describe

__all__ = ["VANISHED", "OpenedFile", "Refused", "check_may_read", "open_file", "why_refused"]

# Bytes of a file's beginning that name its type (a shebang).
HEAD_BYTES = 256
# Bytes read at a time to hash a file.
HASH_BLOCK_BYTES = 2**20


@dataclass(frozen=True)
class OpenedFile:
    """A regular file opened to be indexed: its metadata (from the descriptor
    it is read through), its type, and the file, of which at most `limit`
    bytes are ever read."""

    metadata: FileMetadata
    file_type: FileType
    stream: BinaryIO
    limit: int

    def content_hash(self) -> str | Refused:
        """The hash of the bytes (`chunking.content_hash`'s), a block at a
        time; Refused when the file grew past the limit since it was checked."""
        digest = content_hasher()
        size = 0
        self.stream.seek(0)
        try:
            while block := self.stream.read(min(HASH_BLOCK_BYTES, self.limit + 1 - size)):
                digest.update(block)
                size += len(block)
        except OSError as error:
            return Refused(f"unreadable ({describe(error)})")
        if size > self.limit:
            return Refused(f"grew past the size limit while read ({size}+ bytes)")
        return digest.hexdigest()

    def data(self) -> bytes:
        """The bytes, at most `limit` of them (text: a few MiB)."""
        self.stream.seek(0)
        return self.stream.read(self.limit)

    def rewound(self) -> BinaryIO:
        """The file at its start, to be read as it is needed (a PDF, by pypdf)."""
        self.stream.seek(0)
        return self.stream


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


@contextlib.contextmanager
def open_file(
    path: Path,
    parent: ParentDirectory,
    status: os.stat_result,
    limits: SizeLimits,
    caller: Caller | None = None,
) -> Iterator[OpenedFile | Refused]:
    """The regular file at `path`, in `parent`, that `status` (its lstat
    there) describes, open for as long as the context lasts; PermissionDenied
    when `caller` may not read it."""
    refused = why_refused(status, path, limits)
    if refused is not None:
        yield Refused(refused)
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(parent.name, flags, dir_fd=parent.descriptor)
    except (FileNotFoundError, NotADirectoryError):
        yield Refused(VANISHED)
        return
    except OSError as error:
        # ELOOP: a symbolic link was renamed over the file since the lstat.
        yield Refused(f"unreadable ({describe(error)})")
        return
    with os.fdopen(descriptor, "rb") as opened:
        yield _checked(path, opened, status, limits, caller)


def _checked(
    path: Path, opened: BinaryIO, status: os.stat_result, limits: SizeLimits, caller: Caller | None
) -> OpenedFile | Refused:
    """`opened`, if it is the file `status` describes and `caller` may read it."""
    try:
        opened_status = os.fstat(opened.fileno())
        opened_identity = (opened_status.st_dev, opened_status.st_ino)
        if opened_identity != (status.st_dev, status.st_ino):
            return Refused("replaced while it was opened")
        refused = why_refused(opened_status, path, limits)
        if refused is not None:
            return Refused(refused)
        check_may_read(opened_status, path, caller)
        head = os.pread(opened.fileno(), HEAD_BYTES, 0)
    except OSError as error:
        return Refused(f"unreadable ({describe(error)})")
    found = file_type(path, head)
    metadata = FileMetadata.of(path, opened_status, found)
    return OpenedFile(metadata, found, opened, _read_limit(path, limits))


def _read_limit(path: Path, limits: SizeLimits) -> int:
    """The largest size `limits.why_too_large` accepts for the type of this name."""
    return limits.max_pdf_bytes if file_type(path).format is Format.PDF else limits.max_text_bytes
