"""`Indexer`: the index at work, keeping up with the files by itself.

It puts together the engine (`StoreRunner`), the roots, the watcher (live
changes, at normal priority), the crawler (everything, at the lowest
priority, resumably) and the media monitor (media come and go), and it is
what the D-Bus methods ask. Its threads, each calling the engine itself:

    event loop       D-Bus; hands engine calls to the call pool
    index-call-*     searches, IndexFile, Forget, status (two at a time)
    index-open       opens the engine (loads the model), once
    watchdog's       inotify events, noted as pending wishes
    index-watcher    applies the wishes that are due
    index-crawler    walks, and indexes batch after batch
    index-media      mount table and udev changes
    index-rescan     crawls the directories left unwatched by the watch budget
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from noosd.index.live.budget import (
    DEFAULT_RESCAN_S,
    DEFAULT_WATCHES_PER_USER,
    UnwatchedRescan,
    WatchBudget,
    kernel_watch_limit,
    total_budget,
)
from noosd.index.live.crawler import CHECKPOINT_FILE, DEFAULT_BATCH_SIZE, Crawler
from noosd.index.live.media import KNOWN_MEDIA_FILE, KnownMedia, MediaMonitor, Medium, Udev
from noosd.index.live.pending import DEFAULT_QUIET_S, PendingChanges, is_under
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.live.runner import StoreRunner
from noosd.index.live.watcher import Watcher

if TYPE_CHECKING:
    from noosd.index.store import IndexStore

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexerSettings:
    """state_dir: the engine's files and the crawl's checkpoint; roots: the
    directories indexed (users' homes); media_dirs: where removable media are
    mounted (empty: none indexed); quiet_s: how long a file's events must
    pause before it is indexed; crawl_batch: files per engine call of a
    crawl; watches_per_user, max_watches (0: below the kernel's limit) and
    unwatched_rescan_s: the inotify watch budget (`budget`)."""

    state_dir: Path
    roots: tuple[Path, ...] = (Path("/home"),)
    media_dirs: tuple[Path, ...] = ()
    quiet_s: float = DEFAULT_QUIET_S
    crawl_batch: int = DEFAULT_BATCH_SIZE
    watches_per_user: int = DEFAULT_WATCHES_PER_USER
    max_watches: int = 0
    unwatched_rescan_s: float = DEFAULT_RESCAN_S


@dataclass(frozen=True)
class Activity:
    """files_done: files indexed since the service started (crawl, changes,
    IndexFile); queued: files waiting; crawling: whether a crawl is under way."""

    files_done: int
    queued: int
    crawling: bool


class Indexer:
    def __init__(self, settings: IndexerSettings, open_engine: Callable[[], IndexStore]) -> None:
        self.settings = settings
        self.runner = StoreRunner(open_engine)
        self.roots = RootSet()
        self.budget = WatchBudget(
            settings.watches_per_user, total_budget(settings.max_watches, kernel_watch_limit())
        )
        self.watcher = Watcher(
            self.runner.sink(),
            self.roots,
            PendingChanges(quiet_s=settings.quiet_s),
            on_rules_changed=self._rules_changed,
            on_overflow=self._overflowed,
            budget=self.budget,
        )
        self.crawler = Crawler(
            self.runner.sink(),
            self.roots,
            settings.state_dir / CHECKPOINT_FILE,
            batch_size=settings.crawl_batch,
        )
        self._rescan = UnwatchedRescan(self.budget, self.crawler.crawl, settings.unwatched_rescan_s)
        self._media: MediaMonitor | None = None
        self._known_media: KnownMedia | None = None
        self.files_indexed_on_request = 0

    def open(self) -> None:
        """Start opening the engine, in the background."""
        self.runner.open()

    def start_watching(self) -> None:
        """Watch the roots, start the crawl and the media monitor. Blocks for
        as long as inotify takes to watch every directory: run it on a thread."""
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.watcher.start()
        watched = []
        for path in self.settings.roots:
            if path.is_dir():
                self.watcher.watch(IndexedRoot(path))
                watched.append(path)
            else:
                _log.warning("not indexing %s: it is not a directory", path)
        self.crawler.start(catch_up=watched)
        self._rescan.start()
        if self.settings.media_dirs:
            self._start_media()

    def _start_media(self) -> None:
        self._known_media = KnownMedia(self.settings.state_dir / KNOWN_MEDIA_FILE)
        self._media = MediaMonitor(
            self.settings.media_dirs, self._medium_appeared, self._medium_gone, udev=Udev()
        )
        self._media.start()
        mounted = {medium.tag for medium in self._media.media()}
        for tag in self._known_media.tags - mounted:
            self._set_visible(tag, False)

    def stop_watching(self) -> None:
        """Stop the threads, applying the changes already seen. Blocks: run it on a thread."""
        if self._media is not None:
            self._media.stop()
        self._rescan.stop()
        self.crawler.stop()
        self.watcher.stop()

    async def close(self) -> None:
        await self.runner.close()

    def reindex(self) -> bool:
        """Crawl every root again; False when a crawl of them all is already queued."""
        queued = [self.crawler.crawl(root.path) for root in self.roots.all()]
        return any(queued)

    def activity(self) -> Activity:
        return Activity(
            files_done=(
                self.watcher.files_done + self.crawler.files_done + self.files_indexed_on_request
            ),
            queued=len(self.watcher.pending) + len(self.crawler.in_hand),
            crawling=self.crawler.crawling,
        )

    def queued_under(self, directories: Sequence[Path]) -> int:
        """The files waiting to be indexed under any of `directories`."""
        in_hand = sum(1 for path in self.crawler.in_hand if is_under(path, directories))
        return self.watcher.pending.count_under(directories) + in_hand

    def _rules_changed(self, directory: Path) -> None:
        _log.info("the ignore rules of %s changed: crawling it", directory)
        self.crawler.crawl(directory)

    def _overflowed(self, root: IndexedRoot) -> None:
        if self.crawler.crawl(root.path):
            _log.warning("too many changes at once under %s: crawling it instead", root.path)

    def _medium_appeared(self, medium: Medium) -> None:
        _log.info("medium at %s (%s) mounted: indexing it", medium.mount_point, medium.tag)
        if self._known_media is not None:
            self._known_media.add(medium.tag)
        self._set_visible(medium.tag, True)
        self.watcher.watch(IndexedRoot(medium.mount_point, medium.tag))
        self.crawler.crawl(medium.mount_point)

    def _medium_gone(self, medium: Medium) -> None:
        _log.info("medium at %s (%s) gone: hiding its files", medium.mount_point, medium.tag)
        self.crawler.cancel_under(medium.mount_point)
        self.watcher.unwatch(medium.mount_point)
        self._set_visible(medium.tag, False)

    def _set_visible(self, tag: str, visible: bool) -> None:
        try:
            self.runner.call(lambda engine: engine.set_device_visible(tag, visible))
        except Exception as error:
            state = "shown" if visible else "hidden"
            _log.warning("cannot mark medium %s %s: %s", tag, state, error)
