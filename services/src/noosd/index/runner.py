"""`EngineRunner`: the index engine, opened in the background, used from threads.

Opening the engine loads the embedding model (and chromadb): seconds on a
laptop, a minute or more under emulation. So the service owns its bus name
and answers at once while the engine opens on a thread; whoever needs it
waits for it.

The engine is safe to use from several threads, and is built for it: a
search holds its lock only for SQL and arithmetic, and waits for at most one
commit, not for a crawl's batch of embeddings. So each user of it calls it
on its own thread, at its own priority: the crawler at the lowest, the
watcher's flusher at normal, and the D-Bus methods on a small pool of their
own (`run`), which keeps the event loop free.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from noos.protocol.errors import Unavailable

if TYPE_CHECKING:
    from noosd.index.engine import Indexed, IndexEngine

T = TypeVar("T")

# Threads that serve D-Bus calls at once: a search embeds its query on one
# core, and there are few cores.
CALL_THREADS = 2

_log = logging.getLogger(__name__)


class EngineRunner:
    def __init__(self, open_engine: Callable[[], IndexEngine]) -> None:
        self._open_engine = open_engine
        self._opening = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-open")
        self._calls = ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="index-call")
        self._opened: Future[IndexEngine] | None = None

    def open(self) -> None:
        """Start opening the engine in the background."""
        self._opened = self._opening.submit(self._open_engine)
        self._opened.add_done_callback(self._log_opening)
        self._opening.shutdown(wait=False)

    @staticmethod
    def _log_opening(opened: Future[IndexEngine]) -> None:
        if not opened.cancelled() and (error := opened.exception()) is not None:
            _log.error("the index engine could not be opened: %s", error, exc_info=error)
        elif not opened.cancelled():
            _log.info("the index engine is open")

    @property
    def is_open(self) -> bool:
        opened = self._opened
        return opened is not None and opened.done() and opened.exception() is None

    def engine(self) -> IndexEngine:
        """The engine, once open (this waits); Unavailable if it could not be opened."""
        if self._opened is None:
            raise Unavailable("the index engine is not being opened")
        try:
            return self._opened.result()
        except Exception as error:
            raise Unavailable(f"the index engine could not be opened: {error}") from error

    def call(self, call: Callable[[IndexEngine], T]) -> T:
        """`call(engine)` on this thread, once the engine is open; not on the event loop."""
        return call(self.engine())

    async def run(self, call: Callable[[IndexEngine], T]) -> T:
        """`call(engine)` on a thread of the call pool, once the engine is open."""
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
        if self._opened is None:
            return
        try:
            engine = self._opened.result()
        except Exception:
            return  # never opened: logged already
        engine.close()


class EngineSink:
    """`IndexSink` over an `EngineRunner`: each call waits for the engine to open."""

    def __init__(self, runner: EngineRunner) -> None:
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
