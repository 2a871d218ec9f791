"""org.noos.Memory1: the semantic memory of each user's interactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dbus_fast.service import ServiceInterface

from noos.protocol import memory as protocol
from noosd.memory.engine import StoreRunner
from noosd.memory.interface import MemoryInterface
from noosd.memory.settings import SETTINGS, MemorySettings
from noosd.runtime import Service
from noosd.runtime.health import WorkLoop
from noosd.runtime.settings import Settings

if TYPE_CHECKING:
    from noosd.memory.store import MemoryStore

_log = logging.getLogger(__name__)


class MemoryService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    settings_table = SETTINGS

    def __init__(self, settings: Settings) -> None:
        self._settings = MemorySettings.of(settings)
        self._runner = StoreRunner(self._open_store)
        self._interface = MemoryInterface(self._runner)
        self._consolidation: asyncio.Task[None] | None = None

    def interfaces(self) -> Sequence[ServiceInterface]:
        return [self._interface]

    def work_loops(self) -> Sequence[WorkLoop]:
        return [self._runner.work]

    async def start(self) -> None:
        self._runner.open()
        self._consolidation = asyncio.create_task(self._consolidate_periodically())

    async def stop(self) -> None:
        if self._consolidation is not None:
            self._consolidation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consolidation
        await self._runner.close()

    def _open_store(self) -> MemoryStore:
        # Imported here, on the worker thread: numpy, chromadb and the model
        # would otherwise delay owning the bus name past D-Bus activation's
        # timeout under emulation.
        from noosd.memory.store import MemoryStore
        from noosd.shared.embedding import load_embedder

        settings = self._settings
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        embedder = load_embedder(settings.model_dir)
        store = MemoryStore(settings.state_dir, embedder, settings.config)
        # Load the model now, not on the first user's call.
        embedder.embed(["noos"])
        return store

    async def _consolidate_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._settings.consolidate_every_s)
            try:
                report = await self._runner.run(lambda store: store.consolidate())
                _log.info("consolidated: %s", report)
                # Consolidation moves memories between tiers: the counts are news.
                await self._interface.counts_changed_for_all()
            except Exception:
                _log.exception("consolidation failed; trying again at the next period")
