"""watchdog's inotify observer, made to say when the kernel lost events.

The kernel queues at most fs.inotify.max_queued_events events (16,384 by
default) per inotify instance. A burst that watchdog does not read in time,
such as 100,000 files unpacked into a home, overflows that queue: the kernel
drops the events that do not fit and reports only IN_Q_OVERFLOW. watchdog
then logs a warning and adds its watches again, but tells no handler, so
the files whose events were lost would stay out of the index (or stale in
it) until the next crawl, with nothing in the status to say so. Here the
emitter of each watched root queues `EventsLost` for its root instead, and
the watcher has the root crawled, which finds whatever changed.

The same watch group asks a `WatchBudget` before it watches a directory,
and charges the watch to the directory's owner (`budget`).

This leans on watchdog's inotify internals (the emitter's watch group,
`InotifyWatchGroup.on_queue_overflow`, `_add_callback`,
`_remove_watch_internally`, the observer's emitter class), as the version
pinned in requirements/image.lock has them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from watchdog.events import FileSystemEvent
from watchdog.observers.inotify import InotifyEmitter, InotifyObserver, InotifyWatchGroup
from watchdog.observers.inotify_c import WatchDescriptor

from noosd.index.live.budget import WatchBudget


class EventsLost(FileSystemEvent):
    """The kernel dropped events under the watched root `src_path`: what
    changed there since it was last crawled is not known."""

    event_type = "lost"
    is_directory = True


@dataclass
class _LossReportingWatchGroup(InotifyWatchGroup):
    """watchdog's watch group of one root, calling `on_events_lost` after it
    has watched the root's directories again, and watching a directory only
    within its owner's `budget` (the root itself always)."""

    on_events_lost: Callable[[], None] = field(kw_only=True)
    budget: WatchBudget | None = field(kw_only=True, default=None)

    def on_queue_overflow(self) -> None:
        super().on_queue_overflow()
        self.on_events_lost()

    def _add_callback(self, path: bytes) -> None:
        if self.budget is None or path == self.path:
            super()._add_callback(path)
            return
        owner = self.budget.owner_if_admitted(path)
        if owner is None:
            return
        super()._add_callback(path)
        descriptor = self._active_callbacks_by_path.get(path)
        if descriptor is not None:
            self.budget.charge(descriptor, owner)

    def _remove_watch_internally(self, wd: WatchDescriptor) -> None:
        super()._remove_watch_internally(wd)
        if self.budget is not None:
            self.budget.release(wd)


class _LossReportingEmitter(InotifyEmitter):
    """watchdog's inotify emitter, queuing `EventsLost` when the queue
    overflowed, its watches within `budget` (the observer's)."""

    budget: WatchBudget | None = None

    def on_thread_start(self) -> None:
        # As InotifyEmitter.on_thread_start, with the watch group above.
        self._inotify = _LossReportingWatchGroup(
            self._inotify_fd,
            os.fsencode(self.watch.path),
            is_recursive=self.watch.is_recursive,
            event_mask=self.get_event_mask_from_filter(),
            follow_symlink=self.watch.follow_symlink,
            on_events_lost=lambda: self.queue_event(EventsLost(self.watch.path)),
            budget=self.budget,
        )


class LossReportingObserver(InotifyObserver):
    """watchdog's inotify observer, whose handlers also get `EventsLost` (when
    their watch's event filter names it), and whose watches below each root
    are charged to `budget` (None: no budget)."""

    def __init__(self, budget: WatchBudget | None = None) -> None:
        super().__init__()
        self._emitter_class = type("_BudgetedEmitter", (_LossReportingEmitter,), {"budget": budget})
