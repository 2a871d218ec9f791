"""What a user is told of the index as a whole: its roots and its counts.

The index holds every user's files; what it says of itself must not tell
one user about another's. A user is told of the configured roots (the
system's, such as /home) and of the removable media mounted for them: the
mount point is theirs (a FAT stick mounted with their uid), or it lies in
their directory of /media or /run/media, where desktops mount a user's
media. Another user's stick is none of their business, not even its name.
A user's counts are of the files under their home and their media; root is
told of everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from noosd.index.live.roots import IndexedRoot
from noosd.index.storage.access import ROOT_UID
from noosd.index.storage.callers import User

# Where desktops (udisks) mount a user's removable media: <dir>/<name>/<label>.
USER_MEDIA_DIRS = (Path("/media"), Path("/run/media"))


def mounted_for(root: IndexedRoot, user: User) -> bool:
    """Whether the medium at `root` is `user`'s (see the module's docstring)."""
    if user.name is not None and any(
        media / user.name in root.path.parents for media in USER_MEDIA_DIRS
    ):
        return True
    try:
        return root.path.stat().st_uid == user.caller.uid
    except OSError:
        return False


def shown_roots(roots: Sequence[IndexedRoot], user: User) -> list[IndexedRoot]:
    """The roots `user` is told of: root, all of them."""
    if user.caller.uid == ROOT_UID:
        return list(roots)
    return [root for root in roots if root.device is None or mounted_for(root, user)]


def own_directories(roots: Sequence[IndexedRoot], user: User) -> list[Path]:
    """Where the files that `user`'s counts count are: their home and their media."""
    media = [root.path for root in shown_roots(roots, user) if root.device is not None]
    return media if user.home is None else [user.home, *media]
