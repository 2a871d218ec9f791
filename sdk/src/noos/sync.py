"""Blocking clients, derived from the async ones.

A blocking client owns a private event loop, running in a thread of its own, on
which its async client lives; each blocking method runs the async one there and
waits. So the async client is written once, and the blocking one works
anywhere, even inside a program that already runs an event loop:

    class SyncSystem(SyncClient[System]):
        client_type = System
        ping = blocking(System.ping)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar

from noos.client import Client

ClientT = TypeVar("ClientT", bound=Client)
P = ParamSpec("P")
R = TypeVar("R")


class LoopThread:
    """An event loop running forever in a daemon thread, until `close`."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="noos-sdk", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, R]) -> R:
        """Run `coroutine` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class SyncClient(Generic[ClientT]):
    """The blocking twin of an async `Client`; a subclass sets `client_type`."""

    client_type: type[ClientT]

    def __init__(self, address: str | None = None) -> None:
        self._loop = LoopThread()
        try:
            self._client = self._loop.run(self.client_type.connect(address))
        except BaseException:
            self._loop.close()
            raise

    def close(self) -> None:
        try:
            self._loop.run(self._client.close())
        finally:
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def blocking(
    method: Callable[Concatenate[ClientT, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SyncClient[ClientT], P], R]:
    """The blocking form of an async client method, for a `SyncClient` class body."""

    def run(self: SyncClient[ClientT], /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._loop.run(method(self._client, *args, **kwargs))

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run
