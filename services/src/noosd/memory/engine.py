"""`StoreRunner`: the memory store on a worker thread of its own.

The store opens in the background (`noosd.shared.opener`), on that worker;
calls wait for it. The worker runs every store call in turn, so the event
loop never blocks on SQLite, chromadb or the model, and the store needs no
locking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from noosd.runtime import waiting
from noosd.runtime.health import WorkLoop
from noosd.runtime.turns import FairTurns
from noosd.shared.niceness import SERVICE_CALLS, lower_this_thread
from noosd.shared.opener import BackgroundOpener

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
        self._store = BackgroundOpener("the memory store", open_store)
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="memory-store",
            # Below interactive generation: a flood of calls must not slow it to a crawl.
            initializer=lower_this_thread,
            initargs=(SERVICE_CALLS,),
        )
        self._turns = FairTurns()
        self._settle: asyncio.TimerHandle | None = None
        self._settling: set[asyncio.Future[None]] = set()
        # Each written by one thread alone: the event loop, the worker.
        self._submitted = self._started = 0
        self.work = WorkLoop(
            "memory-store", waiting=lambda: self._turns.queued + self._submitted - self._started
        )

    def open(self) -> None:
        """Start opening the store in the background, on the worker."""
        self._store.start_on(self._executor)

    async def run(self, call: Callable[[MemoryStore], T]) -> T:
        """`call(store)` on the worker thread, once the store is open and it is
        the caller's turn (`FairTurns`: one user's backlog does not delay the
        others' calls); the method call waits meanwhile, holding no work slot."""
        with waiting():
            store = await self._store.wait()
        async with self._turns.turn():
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
        if self._store.now() is not None:
            await self.run(lambda store: store.close())
        self._executor.shutdown(wait=True, cancel_futures=True)
