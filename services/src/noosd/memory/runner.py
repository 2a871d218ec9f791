"""`StoreRunner`: the memory store on a worker thread of its own.

Opening the store imports chromadb and loads the embedding model: seconds on
a laptop, a minute or more under emulation. So the service owns its bus name
and answers at once, while the store opens in the background; calls wait for
it. One worker thread runs every store call in turn, so the event loop never
blocks on SQLite, chromadb or the model, and the store needs no locking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from noos.protocol.errors import Unavailable
from noosd.runtime.health import WorkLoop

if TYPE_CHECKING:
    from noosd.memory.store import MemoryStore

T = TypeVar("T")

# The accesses that recalls note in RAM are written (and SQLite's WAL
# checkpointed) once the service has been idle this long: a burst of recalls
# pays for one write, after its replies.
SETTLE_AFTER_S = 0.5

_log = logging.getLogger(__name__)


class StoreRunner:
    def __init__(self, open_store: Callable[[], MemoryStore]) -> None:
        self._open_store = open_store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memory-store")
        self._opened: asyncio.Future[MemoryStore] | None = None
        self._settle: asyncio.TimerHandle | None = None
        self._settling: set[asyncio.Future[None]] = set()
        # Each written by one thread alone: the event loop, the worker.
        self._submitted = self._started = 0
        self.work = WorkLoop("memory-store", waiting=lambda: self._submitted - self._started)

    def open(self) -> None:
        """Start opening the store in the background."""
        self._opened = asyncio.get_running_loop().run_in_executor(self._executor, self._open_store)
        self._opened.add_done_callback(self._log_opening)

    @staticmethod
    def _log_opening(opened: asyncio.Future[MemoryStore]) -> None:
        if not opened.cancelled() and (error := opened.exception()) is not None:
            _log.error("the memory store could not be opened: %s", error, exc_info=error)
        elif not opened.cancelled():
            _log.info("the memory store is open")

    async def run(self, call: Callable[[MemoryStore], T]) -> T:
        """`call(store)` on the worker thread, once the store is open."""
        if self._opened is None:
            raise Unavailable("the memory store is not open")
        try:
            store = await asyncio.shield(self._opened)
        except Exception as error:
            raise Unavailable(f"the memory store could not be opened: {error}") from error
        self._submitted += 1
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._work_on, call, store
        )

    def _work_on(self, call: Callable[[MemoryStore], T], store: MemoryStore) -> T:
        self._started += 1
        with self.work.working():
            return call(store)

    def settle_later(self) -> None:
        """Settle the store (`MemoryStore.settle`) once no recall came for SETTLE_AFTER_S."""
        if self._settle is not None:
            self._settle.cancel()
        self._settle = asyncio.get_running_loop().call_later(SETTLE_AFTER_S, self._settle_now)

    def _settle_now(self) -> None:
        self._settle = None
        settling = asyncio.ensure_future(self.run(lambda store: store.settle()))
        self._settling.add(settling)
        settling.add_done_callback(self._settled)

    def _settled(self, settling: asyncio.Future[None]) -> None:
        self._settling.discard(settling)
        if not settling.cancelled() and (error := settling.exception()) is not None:
            _log.error("recording recalls' accesses failed: %s", error, exc_info=error)

    async def close(self) -> None:
        if self._settle is not None:
            self._settle.cancel()
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
        if self._opened is not None and self._opened.done() and not self._opened.exception():
            await self.run(lambda store: store.close())
        self._executor.shutdown(wait=True, cancel_futures=True)
