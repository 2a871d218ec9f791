"""The watcher: file events under the indexed roots, turned into index changes.

watchdog's inotify observer watches each root recursively. What it reports
becomes a wish per path in `PendingChanges` (index, forget, or a rename
passed on at once), and the watcher's flusher thread applies the wishes that
are due to the engine:

- a file created, written and closed (watchdog's FileClosedEvent is
  IN_CLOSE_WRITE), modified or chmod'ed (who may read it changed): index it,
  once its events have stopped for a moment;
- deleted: forget it (a directory: everything below it);
- renamed inside the indexed files: rename its entries, keeping what was
  embedded; renamed into an ignored place, or out of the roots: forget it;
  renamed in from one: index it (watchdog reports a move in from outside the
  roots as a creation of everything it brings);
- lost (the kernel's event queue overflowed: `observer`): have the root
  crawled, as when more files wait than `PendingChanges` holds.

Ignored paths (`IgnoreRules`) never reach the engine. watchdog has no way to
leave directories out of a recursive watch, so node_modules and .git are
watched too (an inotify watch per directory: the unit raises the limit) and
their events are dropped here; the engine never hears of them. Each watch is
charged to its directory's owner (`budget`): past their budget, a user's
directories are rescanned instead of watched. A change to
a `.noosignore`, a `pyvenv.cfg` or a `CACHEDIR.TAG` makes the rules of its
directory be read again, and has the directory crawled, forgetting what the
new rules leave out.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import ObservedWatch

from noos.protocol.errors import NoosError
from noosd.index.core.ignore import IGNORE_FILE
from noosd.index.live.budget import WatchBudget
from noosd.index.live.observer import EventsLost, LossReportingObserver
from noosd.index.live.pending import DueChanges, PendingChanges, Wish
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.live.sink import IndexSink
from noosd.runtime.health import WorkLoop
from noosd.shared.diskspace import ROOM_RETRY_S, DiskFull

# Files whose change changes which files are ignored around them.
RULE_FILES = frozenset({IGNORE_FILE, "pyvenv.cfg", "CACHEDIR.TAG"})
CONTENT_EVENTS = (FileCreatedEvent, FileClosedEvent, FileModifiedEvent, FileAttribEvent)
# The events asked of inotify (and of the observer: EventsLost): no IN_OPEN,
# IN_ACCESS or IN_CLOSE_NOWRITE, of which the engine's own reading would make a flood.
WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    *CONTENT_EVENTS,
    FileDeletedEvent,
    DirDeletedEvent,
    FileMovedEvent,
    DirMovedEvent,
    EventsLost,
]
DEFAULT_INDEX_BATCH = 32
# Bytes of files per engine call of the watcher: a few long chunks.
INDEX_BATCH_BYTES = 16 * 1024

_log = logging.getLogger(__name__)


class _Dispatcher(FileSystemEventHandler):
    def __init__(self, handle: Callable[[FileSystemEvent], None]) -> None:
        self._handle = handle

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._handle(event)
        except Exception:
            # An exception here would end watchdog's dispatching thread.
            _log.exception("handling %s failed", event)


def batches_by_size(
    paths: Sequence[Path], most: int, most_bytes: int = INDEX_BATCH_BYTES
) -> Iterator[list[Path]]:
    """`paths`, smallest first, in batches of at most `most` files and
    `most_bytes` (one file at least): a note just saved is not embedded
    behind a large file that changed at the same moment (a new user's
    .bashrc took minutes to embed in a TCG guest)."""
    sizes = {path: _size(path) for path in paths}
    batch: list[Path] = []
    total = 0
    for path in sorted(paths, key=sizes.__getitem__):
        if batch and (len(batch) == most or total + sizes[path] > most_bytes):
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += sizes[path]
    if batch:
        yield batch


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0  # gone: the engine says so, at no cost


class Watcher:
    """Watches the roots given to `watch`, and keeps the index in step with them."""

    def __init__(
        self,
        sink: IndexSink,
        roots: RootSet,
        pending: PendingChanges | None = None,
        *,
        on_rules_changed: Callable[[Path], None] = lambda directory: None,
        on_overflow: Callable[[IndexedRoot], None] = lambda root: None,
        index_batch: int = DEFAULT_INDEX_BATCH,
        budget: WatchBudget | None = None,
        room_retry_s: float = ROOM_RETRY_S,
    ) -> None:
        self._sink = sink
        # How long changes that found the index's disk full wait to be tried again.
        self._room_retry_s = room_retry_s
        self.budget = budget
        self._roots = roots
        self.pending = pending if pending is not None else PendingChanges()
        self._on_rules_changed = on_rules_changed
        self._on_overflow = on_overflow
        self._index_batch = index_batch
        self._observer: LossReportingObserver | None = None
        self._dispatcher = _Dispatcher(self.handle)
        self._watches: dict[Path, ObservedWatch] = {}
        self._stopping = threading.Event()
        self._flusher = threading.Thread(target=self._flush_forever, name="index-watcher")
        self.work = WorkLoop("index-watcher", waiting=lambda: len(self.pending))
        self.files_done = 0

    def start(self) -> None:
        # watchdog warns when a directory made with its parents (mkdir -p) gets
        # its watch twice, from its event and from the walk of its parent; it
        # keeps one, which is right, so the warning says nothing to act on.
        warnings.filterwarnings(
            "ignore", message="Callback with id .* already exists", category=RuntimeWarning
        )
        self._observer = LossReportingObserver(self.budget)
        self._observer.start()
        self._flusher.start()

    def watch(self, root: IndexedRoot) -> None:
        """Watch `root` (and add it to the roots); blocks while inotify watches every directory."""
        if self._observer is None:
            raise RuntimeError("the watcher has not started")
        self._roots.add(root)
        try:
            self._watches[root.path] = self._observer.schedule(
                self._dispatcher, str(root.path), recursive=True, event_filter=WATCHED_EVENTS
            )
        except OSError as error:
            # ENOSPC: out of inotify watches; the crawl still indexes what is there.
            _log.error("cannot watch %s: %s", root.path, error)

    def unwatch(self, path: Path) -> None:
        """Stop watching the root at `path` (and drop it from the roots)."""
        watch = self._watches.pop(path, None)
        if watch is not None and self._observer is not None:
            # KeyError: watchdog dropped it already, when the directory went.
            with contextlib.suppress(KeyError):
                self._observer.unschedule(watch)
        self._roots.remove(path)
        self.pending.drop_under(path)

    def stop(self) -> None:
        """Stop watching; apply what is pending, due or not."""
        if self._observer is not None and self._observer.is_alive():
            self._observer.stop()
            self._observer.join()
        self._stopping.set()
        self.pending.wake.set()
        if self._flusher.is_alive():
            self._flusher.join()

    # Events, on watchdog's thread.

    def handle(self, event: FileSystemEvent) -> None:
        source = Path(os.fsdecode(event.src_path))
        if isinstance(event, FileMovedEvent | DirMovedEvent):
            destination = Path(os.fsdecode(event.dest_path))
            self._moved(source, destination, event.is_directory, event.is_synthetic)
        elif isinstance(event, FileDeletedEvent | DirDeletedEvent):
            self._deleted(source, event.is_directory)
        elif isinstance(event, CONTENT_EVENTS):
            self._changed(source)
        elif isinstance(event, EventsLost):
            self._lost(source)

    def _changed(self, path: Path) -> None:
        root = self._roots.containing(path)
        if root is None:
            return
        self._notice_rule_file(root, path)
        if root.why_ignored(path, is_dir=False) is None and not self.pending.add(
            path, Wish.INDEX, root.device
        ):
            self._on_overflow(root)

    def _lost(self, root_path: Path) -> None:
        root = self._roots.get(root_path)
        if root is not None:  # None: unwatched since
            self._on_overflow(root)

    def _deleted(self, path: Path, is_dir: bool) -> None:
        root = self._roots.containing(path)
        # A root itself never goes by an event: an unmounted medium is hidden, not forgotten.
        if root is None or path == root.path:
            return
        self._notice_rule_file(root, path)
        if root.why_ignored(path, is_dir) is not None:
            return
        if is_dir:
            self.pending.drop_under(path)
        self.pending.add(path, Wish.FORGET, root.device)

    def _moved(self, old: Path, new: Path, is_dir: bool, synthetic: bool) -> None:
        old_root, new_root = self._roots.containing(old), self._roots.containing(new)
        for root, path in ((old_root, old), (new_root, new)):
            if root is not None:
                self._notice_rule_file(root, path)
        was_indexed = old_root is not None and old_root.why_ignored(old, is_dir) is None
        is_indexed = new_root is not None and new_root.why_ignored(new, is_dir) is None
        same_medium = (
            old_root is not None and new_root is not None and old_root.device == new_root.device
        )
        if synthetic:
            # One of the moves watchdog adds for each thing inside a moved
            # directory, after the directory's own: its entries are at `new`
            # already if the directory was renamed, and nowhere if it was forgotten.
            self._moved_inside_directory(new, new_root, was_indexed, is_indexed, is_dir)
        elif was_indexed and is_indexed and same_medium:
            self.pending.rename(old, new)
        else:
            if was_indexed:
                if is_dir:
                    self.pending.drop_under(old)
                self.pending.add(old, Wish.FORGET)
            if is_indexed and not is_dir:
                self._changed(new)

    def _moved_inside_directory(
        self,
        new: Path,
        new_root: IndexedRoot | None,
        was_indexed: bool,
        is_indexed: bool,
        is_dir: bool,
    ) -> None:
        if is_dir or new_root is None:
            return
        if not was_indexed and is_indexed:
            self._changed(new)
        elif (
            was_indexed and not is_indexed and new_root.why_ignored(new.parent, is_dir=True) is None
        ):
            # Renamed along with its directory, into a place whose rules leave it out.
            self.pending.add(new, Wish.FORGET)

    def _notice_rule_file(self, root: IndexedRoot, path: Path) -> None:
        if path.name in RULE_FILES:
            root.rules.forget(path.parent)
            self._on_rules_changed(path.parent)

    # Applying the wishes, on the flusher's thread.

    def _flush_forever(self) -> None:
        while True:
            due, next_due = self.pending.take_due()
            if due and not self._apply(due):
                # The index's disk is full: what was due waits, and is tried again.
                self._stopping.wait(self._room_retry_s)
            if self._stopping.is_set():
                break
            if not due:
                self.pending.wake.wait(next_due)
        self._flush_everything()

    def _flush_everything(self) -> None:
        self.pending.quiet_s = self.pending.max_wait_s = 0.0
        due, _ = self.pending.take_due()
        # Not applied for a full disk: the crawl at the next start finds it.
        self._apply(due)

    def _apply(self, due: DueChanges) -> bool:
        """Apply what is due; False if the index's disk is full, and then
        what was not applied is pending again (nothing of it is lost)."""
        renames, forgets = list(due.renames), list(due.forgets)
        to_index = {device: list(paths) for device, paths in due.to_index.items()}
        try:
            while renames:
                old, new = renames[0].old, renames[0].new
                rename = functools.partial(self._sink.rename, old, new)
                self._apply_one(f"renaming {old} to {new}", rename)
                renames.pop(0)
            while forgets:
                path = forgets[0]
                self._apply_one(f"forgetting {path}", functools.partial(self._sink.forget, path))
                forgets.pop(0)
            for device, paths in list(to_index.items()):
                for batch in batches_by_size(paths, self._index_batch):
                    index = functools.partial(self._sink.index_files, batch, device=device)
                    if self._apply_one(f"indexing {len(batch)} files", index):
                        self.files_done += len(batch)
                    done = set(batch)
                    paths[:] = [path for path in paths if path not in done]
                del to_index[device]
        except DiskFull as error:
            left = len(renames) + len(forgets) + sum(map(len, to_index.values()))
            _log.warning("%s; %d changes wait for room", error, left)
            self.pending.put_back(DueChanges(renames, forgets, to_index))
            return False
        return True

    def _apply_one(self, what: str, call: Callable[[], object]) -> bool:
        """Whether `call` succeeded; a failure is logged, but a full disk
        (`DiskFull`) is raised: the change waits for room."""
        try:
            with self.work.working():
                call()
        except DiskFull:
            raise
        except Exception as error:
            # A noos error (the engine could not open) says it all; anything else is a bug.
            _log.warning("%s failed: %s", what, error, exc_info=not isinstance(error, NoosError))
            return False
        return True
