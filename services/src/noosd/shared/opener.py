"""`BackgroundOpener`: a service's store or engine, opened on a thread while
the service already answers.

Opening one imports chromadb and loads the embedding model: seconds on a
laptop, a minute or more under emulation. So the service owns its bus name
and answers at once, while the thing opens on a worker thread; whoever needs
it waits for it, and learns why (`Unavailable`) if it could not be opened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from noos.protocol.errors import Unavailable

_Opened = TypeVar("_Opened")

_log = logging.getLogger(__name__)


class BackgroundOpener(Generic[_Opened]):
    """`open_it()` run once on a worker; `what` names the thing in logs and errors
    ("the memory store")."""

    def __init__(self, what: str, open_it: Callable[[], _Opened]) -> None:
        self.what = what
        self._open_it = open_it
        self._opened: Future[_Opened] | None = None

    def start_on(self, executor: Executor) -> None:
        """Start opening on `executor`: the calls that need the thing, submitted
        there too, then queue behind the opening."""
        self._opened = executor.submit(self._open_it)
        self._opened.add_done_callback(self._log_opening)

    def start_thread(self, name: str) -> None:
        """Start opening on a thread of its own, named `name`."""
        own = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.start_on(own)
        own.shutdown(wait=False)

    @property
    def is_open(self) -> bool:
        opened = self._opened
        return opened is not None and opened.done() and opened.exception() is None

    def now(self) -> _Opened | None:
        """The thing if it is open, without waiting: None while it opens or if it failed."""
        return self._opened.result() if self._opened is not None and self.is_open else None

    def result(self) -> _Opened:
        """The thing, once open (this blocks: not on the event loop)."""
        opening = self._started()
        try:
            return opening.result()
        except Exception as error:
            raise self._unavailable(error) from error

    async def wait(self) -> _Opened:
        """The thing, once open, awaited on the event loop."""
        # Shielded: a caller that gives up must not cancel the opening.
        opening = asyncio.shield(asyncio.wrap_future(self._started()))
        try:
            return await opening
        except Exception as error:
            raise self._unavailable(error) from error

    def _started(self) -> Future[_Opened]:
        if self._opened is None:
            raise Unavailable(f"{self.what} is not being opened")
        return self._opened

    def _unavailable(self, error: Exception) -> Unavailable:
        return Unavailable(f"{self.what} could not be opened: {error}")

    def _log_opening(self, opened: Future[_Opened]) -> None:
        if opened.cancelled():
            return
        if (error := opened.exception()) is not None:
            _log.error("%s could not be opened: %s", self.what, error, exc_info=error)
        else:
            _log.info("%s is open", self.what)
