"""Who pays for the index's inotify watches: each directory's owner.

inotify counts every watch against the uid that holds it (fs.inotify.
max_user_watches), here the index's. The watcher watches every directory of
every home, so a user making directories by the hundred thousand would take
the watches of all: the other users' new directories would go unwatched, and
their files unindexed until the next crawl. So each watch is charged to the
owner of its directory (`WatchBudget`): at most `per_user` each, and at most
`total` in all (below the kernel's limit, with room for the media). A
directory past its owner's budget, or past the total, gets no watch: it is
recorded, and `UnwatchedRescan` has the crawler go over it every `every_s`
seconds instead, which finds what changed there, later. One user's
directories never take another's watches.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

MAX_USER_WATCHES = Path("/proc/sys/fs/inotify/max_user_watches")
DEFAULT_WATCHES_PER_USER = 65_536
# Of the kernel's limit, what the homes may take: the rest for media and slack.
KERNEL_SHARE = 0.9
DEFAULT_RESCAN_S = 600.0
# The owner charged for a directory that went before it was looked at
# (watchdog's add then fails, and nothing is charged).
GONE = -1

_log = logging.getLogger(__name__)


def kernel_watch_limit(path: Path = MAX_USER_WATCHES) -> int | None:
    """fs.inotify.max_user_watches, or None where it cannot be read."""
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def total_budget(setting: int, kernel_limit: int | None) -> int:
    """The watches the homes may take in all: the setting (0: none set),
    always below the kernel's limit."""
    below_kernel = None if kernel_limit is None else int(kernel_limit * KERNEL_SHARE)
    if setting and below_kernel is not None:
        return min(setting, below_kernel)
    return setting or below_kernel or DEFAULT_WATCHES_PER_USER


class WatchBudget:
    """The watches each uid's directories hold, by watch descriptor; safe
    from any thread. A watch is admitted (`owner_if_admitted`) before it is
    added and charged (`charge`) once its descriptor is known: watches added
    at the same moment from two roots may go one over, no more."""

    def __init__(self, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._lock = threading.Lock()
        self._owners: dict[int, int] = {}  # watch descriptor: uid
        self._held: Counter[int] = Counter()  # uid: watches
        self._unwatched: dict[Path, int] = {}  # directory: its owner
        self._warned: set[int] = set()

    def owner_if_admitted(self, path: bytes) -> int | None:
        """The owner of directory `path` if it may have a watch; None (and
        the directory recorded for the rescan) if not. A path that is gone
        or not a directory is admitted: watchdog's add then fails on it."""
        try:
            owner = os.lstat(path).st_uid
        except OSError:
            return GONE
        with self._lock:
            if self._held[owner] < self.per_user and len(self._owners) < self.total:
                return owner
            self._unwatched[Path(os.fsdecode(path))] = owner
            first = owner not in self._warned
            self._warned.add(owner)
            why = "its" if self._held[owner] >= self.per_user else "the index's total"
        if first:
            _log.warning(
                "uid %d's directories are past %s inotify watch budget (%d each, %d in all): "
                "those left unwatched, from %s on, are rescanned instead",
                owner,
                why,
                self.per_user,
                self.total,
                os.fsdecode(path),
            )
        return None

    def charge(self, descriptor: int, owner: int) -> None:
        with self._lock:
            if descriptor not in self._owners:
                self._owners[descriptor] = owner
                self._held[owner] += 1

    def release(self, descriptor: int) -> None:
        with self._lock:
            owner = self._owners.pop(descriptor, None)
            if owner is not None:
                self._held[owner] -= 1

    def held(self, owner: int) -> int:
        with self._lock:
            return self._held[owner]

    def unwatched(self) -> list[Path]:
        """The directories left unwatched that are still there, outermost
        only (a crawl of one covers those below it)."""
        with self._lock:
            for gone in [path for path in self._unwatched if not path.is_dir()]:
                del self._unwatched[gone]
            paths = sorted(self._unwatched)
        outermost: list[Path] = []
        for path in paths:
            if not outermost or not path.is_relative_to(outermost[-1]):
                outermost.append(path)
        return outermost


class UnwatchedRescan:
    """Every `every_s` seconds, `crawl` each directory the budget left unwatched."""

    def __init__(
        self, budget: WatchBudget, crawl: Callable[[Path], object], every_s: float
    ) -> None:
        self._budget = budget
        self._crawl = crawl
        self._every_s = every_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-rescan", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._every_s):
            for directory in self._budget.unwatched():
                self._crawl(directory)
