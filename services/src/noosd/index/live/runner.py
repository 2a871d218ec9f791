"""`StoreRunner`: the index engine, opened in the background
(`noosd.shared.opener`), used from threads.

The engine is safe to use from several threads, and is built for it: a
search holds its lock only for SQL and arithmetic, and waits for at most one
commit, not for a crawl's batch of embeddings. So each user of it calls it
on its own thread, at its own priority: the crawler at the lowest, the
watcher's flusher at normal, and the D-Bus methods on a small pool of their
own (`run`), which keeps the event loop free, just below interactive
generation (`noosd.shared.niceness`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from noos.protocol.errors import Unavailable
from noosd.runtime.turns import FairTurns
from noosd.shared.niceness import SERVICE_CALLS, lower_this_thread
from noosd.shared.opener import BackgroundOpener

if TYPE_CHECKING:
    from noosd.index.store import Indexed, IndexStore

T = TypeVar("T")

# Threads that serve D-Bus calls at once: a search embeds its query on one
# core, and there are few cores.
CALL_THREADS = 2


class StoreRunner:
    def __init__(self, open_engine: Callable[[], IndexStore]) -> None:
        self._engine = BackgroundOpener("the index engine", open_engine)
        self._calls = ThreadPoolExecutor(
            max_workers=CALL_THREADS,
            thread_name_prefix="index-call",
            # Below interactive generation: a flood of searches must not slow it to a crawl.
            initializer=lower_this_thread,
            initargs=(SERVICE_CALLS,),
        )
        self._turns = FairTurns(CALL_THREADS)

    def open(self) -> None:
        """Start opening the engine in the background, on a thread of its own."""
        self._engine.start_thread("index-open")

    @property
    def is_open(self) -> bool:
        return self._engine.is_open

    def engine(self) -> IndexStore:
        """The engine, once open (this waits); Unavailable if it could not be opened."""
        return self._engine.result()

    def call(self, call: Callable[[IndexStore], T]) -> T:
        """`call(engine)` on this thread, once the engine is open; not on the event loop."""
        return call(self.engine())

    async def run(self, call: Callable[[IndexStore], T]) -> T:
        """`call(engine)` on a thread of the call pool, once the engine is open
        and it is the caller's turn (`FairTurns`: one user's backlog does not
        delay the others' calls); the method call waits meanwhile, holding no
        work slot."""
        async with self._turns.turn():
            try:
                future = self._calls.submit(self.call, call)
            except RuntimeError as error:  # the pool was shut down
                raise Unavailable("the index is shutting down") from error
            return await asyncio.wrap_future(future)

    def sink(self) -> EngineSink:
        """The engine as the watcher and the crawler use it, from their threads."""
        return EngineSink(self)

    async def close(self) -> None:
        """Wait for the calls under way (and an opening), then close the engine."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._calls.shutdown(wait=True, cancel_futures=True)
        try:
            engine = self._engine.result()
        except Unavailable:
            return  # never opened (or not being opened): logged already
        engine.close()


class EngineSink:
    """`IndexSink` over an `StoreRunner`: each call waits for the engine to open."""

    def __init__(self, runner: StoreRunner) -> None:
        self._runner = runner

    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
    ) -> list[Indexed]:
        return self._runner.engine().index_files(paths, device=device, interrupt=interrupt)

    def forget(self, path: Path) -> int:
        return self._runner.engine().forget(path)

    def rename(self, old: Path, new: Path) -> int:
        return self._runner.engine().rename(old, new)

    def indexed_paths(self, directory: Path) -> list[Path]:
        return self._runner.engine().indexed_paths(directory)
