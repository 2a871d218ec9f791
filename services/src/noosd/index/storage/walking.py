"""Reaching a file's directory by its path without following a symbolic link.

The service reads every home (CAP_DAC_READ_SEARCH), so a path resolved by the
kernel goes wherever its owner's links point at the moment of the open: a
user who swaps a directory link between a check and the read gets another
user's file read under their own path. So the path is walked from / one name
at a time, each directory opened (O_PATH) relative to the one before with
O_NOFOLLOW: a link anywhere refuses the path, and the directory reached is
one that really is at that path. The file is then looked at and opened
relative to that directory's descriptor (`reading`).

For a caller (IndexFile, Forget), each directory walked is decided on its
descriptor's fstat, as the kernel would decide for them: a directory they may
not search stops the walk before its entries are looked at, so they learn
nothing of what is in it. Python 3.11 has no openat2(2); the walk is what
RESOLVE_NO_SYMLINKS does, with a check at each step.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from noos.protocol.errors import PermissionDenied
from noosd.index.storage.access import Caller, permits

# What a file that is not there any more is skipped for.
VANISHED = "vanished"

_DIRECTORY_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Refused:
    """Why a path was not read: `VANISHED`, or a reason worth recording."""

    reason: str

    @property
    def vanished(self) -> bool:
        return self.reason == VANISHED


class ParentDirectory:
    """The open directory a file is in, reached without links; `name` is the
    file's name in it. Close it (or use it as a context manager)."""

    def __init__(self, descriptor: int, name: bytes) -> None:
        self.descriptor = descriptor
        self.name = name

    def lstat(self) -> os.stat_result | Refused:
        """The file's lstat(2), relative to the directory, or why it cannot be read."""
        try:
            return os.stat(self.name, dir_fd=self.descriptor, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return Refused(VANISHED)
        except OSError as error:
            return Refused(f"unreadable ({describe(error)})")

    def close(self) -> None:
        os.close(self.descriptor)

    def __enter__(self) -> ParentDirectory:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_parent(path: Path, caller: Caller | None = None) -> ParentDirectory | Refused:
    """The directory of the file at absolute `path`, walked to without following
    a link; PermissionDenied when `caller` (if any) may not search a directory
    on the way."""
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        # No file can have it in its name.
        return Refused("an invalid path (embedded null byte)")
    names = encoded.split(b"/")
    if names[0] != b"" or any(name in (b".", b"..") for name in names[1:]):
        return Refused(f"an invalid path ({path!s} is not absolute and normal)")
    names = [name for name in names[1:] if name]
    if not names:
        return Refused("not a regular file (the root directory)")
    try:
        descriptor = os.open(b"/", _DIRECTORY_FLAGS)
    except OSError as error:
        return Refused(f"unreadable ({describe(error)})")
    walked = b""
    try:
        _check_searchable(descriptor, walked or b"/", caller)
        for name in names[:-1]:
            step = _open_directory(descriptor, name, walked + b"/" + name)
            if isinstance(step, Refused):
                os.close(descriptor)
                return step
            os.close(descriptor)
            descriptor, walked = step, walked + b"/" + name
            _check_searchable(descriptor, walked, caller)
    except BaseException:
        os.close(descriptor)
        raise
    return ParentDirectory(descriptor, names[-1])


def _open_directory(parent: int, name: bytes, path: bytes) -> int | Refused:
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return Refused(VANISHED)
    except NotADirectoryError:
        try:
            status = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except OSError:
            return Refused(VANISHED)
        if stat.S_ISLNK(status.st_mode):
            shown = os.fsdecode(path)
            return Refused(f"reached through a symbolic link ({shown}): name its real path")
        return Refused(VANISHED)  # a file where the path needs a directory: no such file
    except OSError as error:
        return Refused(f"unreadable ({describe(error)})")


def _check_searchable(descriptor: int, path: bytes, caller: Caller | None) -> None:
    if caller is None:
        return
    status = os.fstat(descriptor)
    if not permits(status, caller, os.X_OK):
        raise PermissionDenied(f"uid {caller.uid} may not look into {os.fsdecode(path)}")


def describe(error: OSError) -> str:
    return f"{type(error).__name__}: {error.strerror or error}"
