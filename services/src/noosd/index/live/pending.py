"""`PendingChanges`: what file events asked of the index, held until the files are quiet.

An editor's save is a burst of events: writes and closes, often a temporary
file renamed over the original, sometimes a delete and a re-create. Applying
each event as it comes would embed the same file several times, or forget a
file and embed it again from nothing a moment later. So each path keeps only
its latest wish, index or forget, until no event has touched it for
`quiet_s` (or, for a file written without pause, for at most `max_wait_s`
since its first event); a rename is passed on at once, since what it moves
was indexed before, and it carries the path's wish along.

Thread-safe: events arrive on watchdog's thread, and the watcher's flusher
takes what is due on its own.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_QUIET_S = 0.3
DEFAULT_MAX_WAIT_S = 5.0
DEFAULT_CAPACITY = 50_000


class Wish(enum.Enum):
    INDEX = "index"
    FORGET = "forget"


@dataclass
class _Pending:
    wish: Wish
    device: str | None
    first: float
    last: float


@dataclass(frozen=True)
class Rename:
    old: Path
    new: Path


@dataclass(frozen=True)
class DueChanges:
    """What to apply now, in this order: renames, forgets, then indexing by device."""

    renames: list[Rename] = field(default_factory=list)
    forgets: list[Path] = field(default_factory=list)
    to_index: dict[str | None, list[Path]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.renames or self.forgets or self.to_index)


def is_under(path: Path, directories: Sequence[Path]) -> bool:
    return any(directory in path.parents for directory in directories)


class PendingChanges:
    """Each path's latest wish, and the renames not yet applied.

    Holds at most `capacity` paths to index: past it `add` refuses one (returns
    False), and the watcher has the root crawled instead, which finds what
    changed. Wishes to forget are always taken: there are no more of them
    than files that existed.
    """

    def __init__(
        self,
        *,
        quiet_s: float = DEFAULT_QUIET_S,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet_s = quiet_s
        self.max_wait_s = max(max_wait_s, quiet_s)
        self.capacity = capacity
        self._clock = clock
        self._paths: dict[Path, _Pending] = {}
        self._renames: list[Rename] = []
        self._lock = threading.Lock()
        # Set when there is something new for the flusher to look at: a rename
        # (due at once), or a first path (nothing was due before it).
        self.wake = threading.Event()

    def __len__(self) -> int:
        with self._lock:
            return len(self._paths) + len(self._renames)

    def count_under(self, directories: Sequence[Path]) -> int:
        """The paths waiting under any of `directories` (a rename: where it goes)."""
        with self._lock:
            paths = [*self._paths, *(rename.new for rename in self._renames)]
        return sum(1 for path in paths if is_under(path, directories))

    def add(self, path: Path, wish: Wish, device: str | None = None) -> bool:
        """Note `wish` for `path`, replacing its earlier one; False when full."""
        now = self._clock()
        with self._lock:
            pending = self._paths.get(path)
            if pending is None:
                # Only wishes to index are refused: a crawl finds what they
                # would have, while nothing would find what was deleted.
                if wish is Wish.INDEX and len(self._paths) >= self.capacity:
                    return False
                self._paths[path] = _Pending(wish, device, now, now)
                if len(self._paths) == 1:
                    self.wake.set()
            else:
                pending.wish, pending.device, pending.last = wish, device, now
        return True

    def rename(self, old: Path, new: Path) -> None:
        """Note a rename of the file or directory `old` to `new`: the wishes
        for `old` and below move along, and any earlier wish for what was at
        `new` is void (the renamed file replaced it)."""
        now = self._clock()
        with self._lock:
            for path in [p for p in self._paths if p == new or p.is_relative_to(new)]:
                del self._paths[path]
            for path in [p for p in self._paths if p == old or p.is_relative_to(old)]:
                pending = self._paths.pop(path)
                pending.last = now
                self._paths[new / path.relative_to(old)] = pending
            self._renames.append(Rename(old, new))
        self.wake.set()

    def drop_under(self, directory: Path) -> None:
        """Drop every wish for `directory` and below (it is forgotten whole)."""
        with self._lock:
            for path in [p for p in self._paths if p.is_relative_to(directory)]:
                del self._paths[path]

    def take_due(self) -> tuple[DueChanges, float | None]:
        """Take what is due now; and seconds until the next wish is due (None: none left)."""
        now = self._clock()
        due = DueChanges()
        next_due: float | None = None
        with self._lock:
            due.renames.extend(self._renames)
            self._renames.clear()
            for path, pending in list(self._paths.items()):
                at = min(pending.last + self.quiet_s, pending.first + self.max_wait_s)
                if at > now:
                    next_due = at - now if next_due is None else min(next_due, at - now)
                    continue
                del self._paths[path]
                if pending.wish is Wish.FORGET:
                    due.forgets.append(path)
                else:
                    due.to_index.setdefault(pending.device, []).append(path)
            self.wake.clear()
            if self._renames:
                self.wake.set()
        return due, next_due
