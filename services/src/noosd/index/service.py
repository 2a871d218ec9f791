"""org.noos.Index1: a vector index of users' files, kept up to date as they change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dbus_fast.service import ServiceInterface

from noos.protocol import index as protocol
from noosd.index.crawler import DEFAULT_BATCH_SIZE
from noosd.index.indexer import Indexer, IndexerSettings
from noosd.index.interface import IndexInterface
from noosd.index.media import DEFAULT_MEDIA_DIRS
from noosd.index.pending import DEFAULT_QUIET_S
from noosd.runtime import Service
from noosd.runtime.health import WorkLoop
from noosd.shared.models import models_dir

if TYPE_CHECKING:
    from noosd.index.engine import IndexEngine

EMBEDDING_MODEL = "all-minilm-l6-v2"
PROGRESS_EVERY_S = 1.0

_log = logging.getLogger(__name__)


def paths_of(text: str) -> tuple[Path, ...]:
    """Colon-separated paths (as in $PATH); empty parts are skipped."""
    return tuple(Path(part) for part in text.split(":") if part)


def settings_from_environment() -> IndexerSettings:
    """NOOS_INDEX_STATE_DIR, else systemd's STATE_DIRECTORY (StateDirectory=noos/index),
    else ~/.local/state/noos/index; NOOS_INDEX_ROOTS (default /home) and
    NOOS_INDEX_MEDIA_DIRS (default /media:/run/media:/mnt; empty: no media),
    colon-separated; NOOS_INDEX_QUIET_S, the pause after a file's last event
    before it is indexed (default 0.3); NOOS_INDEX_CRAWL_BATCH, files per
    engine call of a crawl (default 16)."""
    state = os.environ.get("NOOS_INDEX_STATE_DIR") or os.environ.get("STATE_DIRECTORY")
    media = os.environ.get("NOOS_INDEX_MEDIA_DIRS")
    return IndexerSettings(
        state_dir=Path(state) if state else Path.home() / ".local/state/noos/index",
        roots=paths_of(os.environ.get("NOOS_INDEX_ROOTS") or "/home"),
        media_dirs=DEFAULT_MEDIA_DIRS if media is None else paths_of(media),
        quiet_s=float(os.environ.get("NOOS_INDEX_QUIET_S", DEFAULT_QUIET_S)),
        crawl_batch=int(os.environ.get("NOOS_INDEX_CRAWL_BATCH", DEFAULT_BATCH_SIZE)),
    )


class IndexService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH

    def __init__(self) -> None:
        self._settings = settings_from_environment()
        self._indexer = Indexer(self._settings, self._open_engine)
        self._interface = IndexInterface(self._indexer)
        self._watching: asyncio.Future[None] | None = None
        self._progress: asyncio.Task[None] | None = None

    def interfaces(self) -> Sequence[ServiceInterface]:
        return [self._interface]

    def work_loops(self) -> Sequence[WorkLoop]:
        return [self._indexer.crawler.work, self._indexer.watcher.work]

    async def start(self) -> None:
        self._indexer.open()
        # Watching every directory of every home takes a while: the name is
        # owned meanwhile, and changes made during it are caught by the crawl.
        self._watching = asyncio.get_running_loop().run_in_executor(
            None, self._indexer.start_watching
        )
        self._watching.add_done_callback(self._log_watching)
        self._progress = asyncio.create_task(self._report_progress())

    async def stop(self) -> None:
        if self._progress is not None:
            self._progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._progress
        if self._watching is not None:
            with contextlib.suppress(Exception):
                await self._watching  # logged by _log_watching
        await asyncio.to_thread(self._indexer.stop_watching)
        await self._indexer.close()

    @staticmethod
    def _log_watching(watching: asyncio.Future[None]) -> None:
        if not watching.cancelled() and (error := watching.exception()) is not None:
            _log.error("cannot watch the indexed directories: %s", error, exc_info=error)

    def _open_engine(self) -> IndexEngine:
        # Imported here, on the opening thread: numpy, chromadb and the model
        # would otherwise delay owning the bus name past D-Bus activation's
        # timeout under emulation.
        from noosd.index.engine import IndexEngine
        from noosd.shared.embedding import load_embedder

        embedder = load_embedder(models_dir() / EMBEDDING_MODEL)
        engine = IndexEngine(
            self._settings.state_dir,
            embedder,
            chroma_url=os.environ.get("NOOS_INDEX_CHROMA_URL") or None,
        )
        # Load the model now, not on the first user's search.
        embedder.embed(["noos"])
        return engine

    async def _report_progress(self) -> None:
        reported = None
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            activity = self._indexer.activity()
            progress = (activity.files_done, activity.queued)
            if progress != reported:
                self._interface.Progress(*progress)
                reported = progress
