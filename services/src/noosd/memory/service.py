"""org.noos.Memory1: the semantic memory of each user's interactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dbus_fast.service import ServiceInterface

from noos.protocol import memory as protocol
from noosd.memory.config import MemoryConfig
from noosd.memory.interface import MemoryInterface
from noosd.memory.runner import StoreRunner
from noosd.runtime import Service
from noosd.runtime.health import WorkLoop
from noosd.shared.models import models_dir

if TYPE_CHECKING:
    from noosd.memory.store import MemoryStore

EMBEDDING_MODEL = "all-minilm-l6-v2"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemorySettings:
    """Where the service keeps its state and how often it consolidates.

    From the environment: NOOS_MEMORY_STATE_DIR, else systemd's
    STATE_DIRECTORY (StateDirectory=noos/memory), else ~/.local/state/noos/memory;
    NOOS_MEMORY_CONSOLIDATE_S (default an hour); NOOS_MEMORY_HALF_LIFE_S
    (default a week); NOOS_MODELS_DIR for the embedding model.
    """

    state_dir: Path
    model_dir: Path
    consolidate_every_s: float
    config: MemoryConfig

    @classmethod
    def from_environment(cls) -> MemorySettings:
        state = os.environ.get("NOOS_MEMORY_STATE_DIR") or os.environ.get("STATE_DIRECTORY")
        defaults = MemoryConfig()
        return cls(
            state_dir=Path(state) if state else Path.home() / ".local/state/noos/memory",
            model_dir=models_dir() / EMBEDDING_MODEL,
            consolidate_every_s=float(os.environ.get("NOOS_MEMORY_CONSOLIDATE_S", 3600)),
            config=MemoryConfig(
                half_life_s=float(os.environ.get("NOOS_MEMORY_HALF_LIFE_S", defaults.half_life_s))
            ),
        )


class MemoryService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH

    def __init__(self) -> None:
        self._settings = MemorySettings.from_environment()
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
            except Exception:
                _log.exception("consolidation failed; trying again at the next period")
            else:
                _log.info("consolidated: %s", report)
