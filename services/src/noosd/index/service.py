"""org.noos.Index1: a vector index of users' files, kept up to date as they change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dbus_fast.service import ServiceInterface

from noos.protocol import index as protocol
from noosd.index.core.ignore import SizeLimits
from noosd.index.engine import Indexer
from noosd.index.interface import IndexInterface
from noosd.index.settings import SETTINGS, indexer_settings
from noosd.runtime import Service
from noosd.runtime.health import WorkLoop
from noosd.runtime.settings import Settings

if TYPE_CHECKING:
    from noosd.index.store import IndexStore

EMBEDDING_MODEL = "all-minilm-l6-v2"
PROGRESS_EVERY_S = 1.0

_log = logging.getLogger(__name__)


class IndexService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    settings_table = SETTINGS

    def __init__(self, settings: Settings) -> None:
        self._settings = indexer_settings(settings)
        self._model_dir: Path = settings["models_dir"] / EMBEDDING_MODEL
        self._chroma_url = settings["chroma_url"] or None
        self._limits = SizeLimits(max_pdf_text_chars=settings["max_pdf_text_chars"])
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

    def _open_engine(self) -> IndexStore:
        # Imported here, on the opening thread: numpy, chromadb and the model
        # would otherwise delay owning the bus name past D-Bus activation's
        # timeout under emulation.
        from noosd.index.store import IndexStore
        from noosd.shared.embedding import load_embedder

        embedder = load_embedder(self._model_dir)
        engine = IndexStore(
            self._settings.state_dir, embedder, limits=self._limits, chroma_url=self._chroma_url
        )
        # A damaged database found by a query is set aside and the index
        # starts afresh, as on open: the crawl fills it again.
        engine.on_started_afresh = self._indexer.reindex
        # Load the model now, not on the first user's search.
        embedder.embed(["noos"])
        return engine

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            try:
                await self._interface.report_progress()
            except Exception as error:  # the engine failing a count: next time
                _log.warning("cannot report the index's progress: %s", error)
