"""Who may see a found file: the permission check made at query time.

One index serves every user, so a search returns only the files its caller
could open itself, as the kernel would decide it now (not when the file was
indexed: a chmod since counts at once). A caller may open a file for reading
when it may read the file (the owner's, group's or others' read bit, by the
first class it belongs to, as in POSIX: an owner whose owner bits deny is
denied even when the group bits allow) and search (x) every directory above
it. uid 0 reads and searches everything (CAP_DAC_OVERRIDE).

ACLs, LSMs (AppArmor, SELinux) and mount namespaces are not consulted: a file
that an ACL opens to more users is shown only to those its mode bits allow,
which never shows too much; one that an ACL closes to a user whose mode bits
allow it is still shown.

The caller's groups are taken as given (primary and supplementary, as the bus
reports them); `os.access` cannot be used, since it asks about this process,
not the caller.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

ROOT_UID = 0


@dataclass(frozen=True)
class Caller:
    """Who asks: results are filtered by what they could open."""

    uid: int
    gids: frozenset[int]  # primary and supplementary groups


def permits(status: os.stat_result, caller: Caller, want: int) -> bool:
    """Whether the mode bits in `status` grant `caller` the access `want`
    (`os.R_OK`, `os.X_OK` or both), by owner, else group, else others."""
    if caller.uid == ROOT_UID:
        return True
    mode = status.st_mode
    if status.st_uid == caller.uid:
        granted = mode >> 6
    elif status.st_gid in caller.gids:
        granted = mode >> 3
    else:
        granted = mode
    return granted & want == want


class AccessCheck:
    """Decides, for one caller, which paths it could open. It walks each
    directory once per search (one lstat(2), its result kept), so the hits of
    one search, often in the same few directories, cost about one lstat each.
    Paths are handled as bytes with `os.path`: pathlib's objects cost more
    than the system calls here.

    Meant for one search: a later chmod is seen by the next one.
    """

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        # A directory as named: its real path, and whether the caller may search it.
        self._directories: dict[bytes, tuple[bytes, bool]] = {}

    def may_open(
        self, path: str | bytes | os.PathLike[str], identity: tuple[int, int] | None = None
    ) -> bool:
        """Whether the caller could open the regular file at `path` (absolute)
        for reading now, and it is the file `identity` (st_dev, st_ino) names
        if given: the one whose text was indexed, not one swapped in since
        (a hard link to another user's file, read, then renamed away).

        False when it does not exist (any more), is not a regular file (a
        symbolic link is not followed: the index holds none), or cannot be
        stat'ed. Symbolic links among the directories above are followed, so
        that the directories checked are those the kernel would walk.
        """
        directory, name = os.path.split(os.fsencode(path))
        real, searchable = self._directory(directory)
        if not searchable:
            return False
        try:
            status = os.lstat(_child(real, name))
        except (OSError, ValueError):
            return False
        if identity is not None and (status.st_dev, status.st_ino) != identity:
            return False
        return stat.S_ISREG(status.st_mode) and permits(status, self.caller, os.R_OK)

    def _directory(self, directory: bytes) -> tuple[bytes, bool]:
        """The real path of `directory`, and whether the caller may search it
        and every directory the kernel walks to reach it."""
        known = self._directories.get(directory)
        if known is not None:
            return known
        # Closed until decided, so that a loop of links ends closed.
        self._directories[directory] = (directory, False)
        parent, name = os.path.split(directory)
        if not name:
            decided = (directory, self._searchable(directory))
        else:
            real_parent, parent_searchable = self._directory(parent)
            here = _child(real_parent, name)
            status = _lstat(here) if parent_searchable else None
            if status is None:
                decided = (here, False)
            elif stat.S_ISLNK(status.st_mode):
                decided = self._directory(os.path.realpath(here))
            else:
                decided = (here, _searchable_by(status, self.caller))
        self._directories[directory] = decided
        return decided

    def _searchable(self, directory: bytes) -> bool:
        status = _lstat(directory)
        return status is not None and _searchable_by(status, self.caller)


def _child(directory: bytes, name: bytes) -> bytes:
    return directory.rstrip(b"/") + b"/" + name


def _lstat(path: bytes) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (OSError, ValueError):
        return None


def _searchable_by(status: os.stat_result, caller: Caller) -> bool:
    return stat.S_ISDIR(status.st_mode) and permits(status, caller, os.X_OK)
