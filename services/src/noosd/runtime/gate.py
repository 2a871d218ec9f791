"""The bound on a service's work in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from noos.protocol.errors import Busy, Unavailable

DEFAULT_MAX_IN_FLIGHT = 64

# What a refused caller is told to wait: about the time a typical call takes.
RETRY_AFTER_S = 0.5


class CallGate:
    """Admits method calls while fewer than `limit` are in flight, and none once closed.

    Past the limit a call fails at once with `Busy` instead of waiting: a
    service that falls behind says so rather than letting its backlog (and its
    callers' latency) grow without bound.
    """

    def __init__(self, limit: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if limit < 1:
            raise ValueError(f"the limit on calls in flight must be at least 1, not {limit}")
        self.limit = limit
        self.in_flight = 0
        self.closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count the code run inside as one call in flight; Busy or Unavailable if refused."""
        if self.closed:
            raise Unavailable("the service is shutting down")
        if self.in_flight >= self.limit:
            raise Busy(
                f"the service has {self.in_flight} calls in flight, its limit",
                retry_after=RETRY_AFTER_S,
            )
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    def close(self) -> None:
        """Refuse every call from now on."""
        self.closed = True

    async def drain(self) -> None:
        """Wait until no call is in flight."""
        await self._idle.wait()
