"""Who a caller is to the index: their groups and home, from the uid the bus gives.

The bus daemon vouches for a connection's uid only; the groups that decide
which files a user may read, and the home that "in my projects" means, are
the system's (passwd and group, through NSS), looked up at each call, so
that a user just added to a group sees its files at once.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from noosd.index.storage.access import Caller


@dataclass(frozen=True)
class User:
    caller: Caller
    home: Path | None  # None for a uid without a passwd entry
    name: str | None = None  # likewise


def user_of(uid: int) -> User:
    """The user with `uid`: its primary and supplementary groups, and its home."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        # Unknown to NSS: only the "others" bits can let it read anything.
        return User(Caller(uid, frozenset()), None)
    groups = frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return User(Caller(uid, groups), Path(entry.pw_dir), entry.pw_name)
