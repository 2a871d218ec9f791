"""The crawl: every file under a directory, indexed in batches, resumably.

The walk visits a directory's entries sorted by name, depth first, so that
its order is the order of the paths' parts as tuples. A checkpoint (the
queued jobs, and the parts of the last path done) is enough to continue
after a restart: everything at or before it is skipped without a stat,
and whole subtrees before it without being opened. Files that did not
change since they were indexed cost the engine a stat, so a crawl after
every start, to catch what changed while the service was down, is cheap.
A crawl also forgets the indexed files it did not find: deleted while no
one watched, or left out by ignore rules that changed.

The walk never follows symbolic links (a link in a home must not pull in
what it points to) and never enters an ignored directory; it reads one
directory's entries at a time, so a directory of 100,000 files is 100,000
entries in RAM and no more, and the engine gets them in batches of
`batch_size`, between which the watcher's fresh changes take their turn.
The crawler's thread does all of the crawl's work, the engine's reading and
embedding included, at the lowest CPU and I/O priority (`priority`).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from noos.protocol.errors import NoosError
from noosd.index.live.priority import idle_this_thread
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.live.sink import IndexSink, Interrupted
from noosd.runtime.health import WorkLoop
from noosd.shared.diskspace import ROOM_RETRY_S, DiskFull

CHECKPOINT_FILE = "crawl.json"
CHECKPOINT_VERSION = 1
DEFAULT_BATCH_SIZE = 16
# Writing the checkpoint after every batch would cost more than the batch
# when files are unchanged; losing a few seconds of progress costs little.
CHECKPOINT_EVERY_S = 2.0
# How long stopping waits for the crawl's thread to see that it must stop.
STOP_WAIT_S = 3.0

_log = logging.getLogger(__name__)

Parts = tuple[str, ...]


@dataclass(frozen=True)
class WalkEntry:
    """A file found by the walk (or an ignored file or directory, where the
    walk does not go), with its path's parts relative to the walked directory."""

    path: Path
    parts: Parts
    ignored: bool


def done_before(parts: Parts, after: Parts | None) -> bool:
    """Whether the walk has passed the path with `parts` once it is past `after`;
    a directory above `after` is not passed: the walk is inside it."""
    if after is None:
        return False
    return parts == after or (parts < after and after[: len(parts)] != parts)


def walk(root: IndexedRoot, directory: Path, after: Parts | None = None) -> Iterator[WalkEntry]:
    """The regular files under `directory` (inside `root`) in walk order, and
    the ignored entries where the walk does not go, skipping everything at
    or before `after`."""
    yield from _walk(root, directory, (), after)


def _walk(
    root: IndexedRoot, directory: Path, parts: Parts, after: Parts | None
) -> Iterator[WalkEntry]:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        # Gone since, or unreadable even with the service's capability: nothing to index.
        _log.debug("cannot read %s: %s", directory, error)
        return
    for entry in entries:
        entry_parts = (*parts, entry.name)
        if done_before(entry_parts, after):
            continue  # with everything below it
        try:
            if entry.is_symlink():
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and not entry.is_file(follow_symlinks=False):
                continue  # sockets, pipes, devices
        except OSError:
            continue
        path = Path(entry.path)
        if root.why_ignored(path, is_dir) is not None:
            yield WalkEntry(path, entry_parts, ignored=True)
        elif is_dir:
            yield from _walk(root, path, entry_parts, after)
        else:
            yield WalkEntry(path, entry_parts, ignored=False)


@dataclass(frozen=True)
class CrawlJob:
    directory: Path

    def covers(self, other: CrawlJob) -> bool:
        return other.directory.is_relative_to(self.directory)

    def to_json(self) -> str:
        return os.fsdecode(self.directory)

    @classmethod
    def from_json(cls, data: object) -> CrawlJob:
        if not isinstance(data, str):
            raise TypeError(f"a crawl job is a directory's path, not {data!r}")
        return cls(Path(data))


@dataclass(frozen=True)
class Checkpoint:
    """Where the crawl is: the jobs left (the first under way) and the last
    path of the first job that is done."""

    jobs: tuple[CrawlJob, ...] = ()
    after: Parts | None = None

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != CHECKPOINT_VERSION:
                return cls()
            after = data.get("after")
            return cls(
                tuple(CrawlJob.from_json(job) for job in data["jobs"]),
                tuple(after) if after is not None else None,
            )
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, KeyError, TypeError) as error:
            _log.warning("starting the crawl afresh: checkpoint %s unreadable: %s", path, error)
            return cls()

    def save(self, path: Path) -> None:
        data = {
            "version": CHECKPOINT_VERSION,
            "jobs": [job.to_json() for job in self.jobs],
            "after": list(self.after) if self.after is not None else None,
        }
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        temporary.replace(path)


class Crawler:
    """Crawls directories on a thread of its own, one job at a time, in batches.

    Jobs wait in a queue that never holds a directory twice (a job inside a
    queued one adds nothing, unless that one has begun: its walk may have
    passed what changed); the queue and the position in the first job are
    checkpointed in `checkpoint_path`.
    """

    def __init__(
        self,
        sink: IndexSink,
        roots: RootSet,
        checkpoint_path: Path,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: Callable[[int], None] = lambda files: None,
        room_retry_s: float = ROOM_RETRY_S,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self._sink = sink
        self._roots = roots
        self._checkpoint_path = checkpoint_path
        self._batch_size = batch_size
        self._on_batch = on_batch
        # How long a crawl that found the index's disk full waits to try again.
        self._room_retry_s = room_retry_s
        self._changed = threading.Condition()
        self._jobs: deque[CrawlJob] = deque()
        self._after: Parts | None = None
        # Whether the crawler's thread has begun the first job.
        self._first_begun = False
        self._stopping = False
        # Set with _stopping: interrupts the batch under way.
        self._halt = threading.Event()
        self._cancelled_under: Path | None = None
        self._thread: threading.Thread | None = None
        self._saved_at = 0.0
        self.work = WorkLoop("index-crawler", waiting=lambda: len(self._jobs))
        self.files_done = 0
        # The files of the batch being indexed.
        self.in_hand: tuple[Path, ...] = ()

    @property
    def running(self) -> bool:
        """Whether the crawler's thread runs (it ends when stopped, or when the engine went)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def crawling(self) -> bool:
        """Whether a crawl is under way (jobs are queued, and the thread runs to do them)."""
        with self._changed:
            return bool(self._jobs) and self.running

    def start(self, catch_up: Sequence[Path]) -> None:
        """Continue the checkpointed crawl, or else crawl `catch_up` (what
        changed while the service was down), on the crawler's thread."""
        checkpoint = Checkpoint.load(self._checkpoint_path)
        with self._changed:
            if checkpoint.jobs:
                _log.info(
                    "resuming the crawl of %s after %s",
                    ", ".join(str(job.directory) for job in checkpoint.jobs),
                    "/".join(checkpoint.after or ()) or "the start",
                )
                self._jobs.extend(checkpoint.jobs)
                self._after = checkpoint.after
            for directory in catch_up:
                job = CrawlJob(directory)
                if not self._covered(job):
                    self._jobs.append(job)
        self._thread = threading.Thread(target=self._run, name="index-crawler", daemon=True)
        self._thread.start()

    def crawl(self, directory: Path) -> bool:
        """Queue a crawl of `directory`; False when a queued job covers it already."""
        job = CrawlJob(directory)
        with self._changed:
            if self._covered(job):
                return False
            self._jobs.append(job)
            self._changed.notify()
        return True

    def _covered(self, job: CrawlJob) -> bool:
        """Whether a queued job that has not begun covers `job` (under the lock).
        One that has begun does not: a change behind its walk (events that inotify
        lost, new ignore rules) would wait for the next crawl otherwise."""
        waiting = itertools.islice(self._jobs, 1 if self._first_begun else 0, None)
        return any(queued.covers(job) for queued in waiting)

    def cancel_under(self, directory: Path) -> None:
        """Drop the jobs inside `directory` (a medium that went away), the one under way too."""
        with self._changed:
            jobs = list(self._jobs)
            if jobs and jobs[0].directory.is_relative_to(directory):
                # The first job is under way: the crawler drops it when it sees this.
                self._cancelled_under = directory
            self._jobs = deque(
                jobs[:1] + [job for job in jobs[1:] if not job.directory.is_relative_to(directory)]
            )

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop soon, within the batch under way, keeping the checkpoint.

        The crawl's thread runs at nice 19: on a busy machine it may take
        minutes to reach its next look at the interrupt. After `timeout` it
        is left behind (a daemon thread, holding no lock while it embeds;
        the engine refuses its commit once closed), and the checkpoint, which
        never counts the batch in hand as done, is saved from here."""
        with self._changed:
            self._stopping = True
            self._halt.set()
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                _log.info("the crawl's batch in hand is left for the next start")
                self._save_checkpoint(force=True)

    def _run(self) -> None:
        idle_this_thread()
        while True:
            with self._changed:
                while not self._jobs and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                job, after = self._jobs[0], self._after
                self._first_begun = True
            try:
                finished = self._crawl(job, after)
            except Interrupted:
                # Stopping: the batch in hand is done again at the next start.
                self._save_checkpoint(force=True)
                return
            except DiskFull as error:
                # The job goes on from its last batch once there is room.
                _log.warning("crawling %s waits: %s", job.directory, error)
                self._save_checkpoint(force=True)
                self._halt.wait(self._room_retry_s)
                finished = False
            except NoosError as error:
                # The engine is gone (it could not open, or it closed): the
                # checkpoint keeps the crawl for the next start.
                _log.error("crawling stopped at %s: %s", job.directory, error)
                self._save_checkpoint(force=True)
                return
            except Exception:
                _log.exception("crawling %s failed; going on with the next job", job.directory)
                finished = True
            if finished:
                with self._changed:
                    self._jobs.popleft()
                    self._after = None
                    self._first_begun = False
                    self._cancelled_under = None
                self._save_checkpoint(force=True)
                _log.info("crawled %s", job.directory)

    def _interrupted(self, job: CrawlJob) -> str | None:
        with self._changed:
            if self._stopping:
                return "stopping"
            cancelled = self._cancelled_under
            if cancelled is not None and job.directory.is_relative_to(cancelled):
                return "cancelled"
        return None

    def _crawl(self, job: CrawlJob, after: Parts | None) -> bool:
        """Crawl `job` from after `after`; whether it finished (or was cancelled)."""
        root = self._roots.containing(job.directory)
        if root is None:
            _log.info("not crawling %s: it is under no indexed root now", job.directory)
            return True
        unseen = {
            path
            for path in self._sink.indexed_paths(job.directory)
            if not done_before(path.relative_to(job.directory).parts, after)
        }
        batch: list[WalkEntry] = []
        for entry in walk(root, job.directory, after):
            if (why := self._interrupted(job)) is not None:
                self._save_checkpoint(force=True)
                return why == "cancelled"
            if entry.ignored:
                continue
            unseen.discard(entry.path)
            batch.append(entry)
            if len(batch) >= self._batch_size:
                self._index(batch, root.device)
                batch = []
        if batch:
            self._index(batch, root.device)
        for path in sorted(unseen):
            # Deleted while no one watched, or ignored since.
            with self.work.working():
                self._sink.forget(path)
        return True

    def _index(self, batch: list[WalkEntry], device: str | None) -> None:
        self.in_hand = tuple(entry.path for entry in batch)
        try:
            with self.work.working():
                self._sink.index_files(
                    [entry.path for entry in batch], device=device, interrupt=self._halt
                )
        finally:
            self.in_hand = ()
        self.files_done += len(batch)
        with self._changed:
            self._after = batch[-1].parts
        self._on_batch(len(batch))
        self._save_checkpoint()

    def _save_checkpoint(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved_at < CHECKPOINT_EVERY_S:
            return
        with self._changed:
            checkpoint = Checkpoint(tuple(self._jobs), self._after)
        try:
            checkpoint.save(self._checkpoint_path)
        except OSError as error:
            _log.warning("cannot save the crawl's checkpoint: %s", error)
        self._saved_at = now
