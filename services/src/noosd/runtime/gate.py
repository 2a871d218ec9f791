"""The bound on a service's work in flight, shared out among its callers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from noos.protocol.errors import Busy, Unavailable

DEFAULT_MAX_IN_FLIGHT = 64

# What a refused caller is told to wait: about the time a typical call takes.
RETRY_AFTER_S = 0.5


@dataclass(frozen=True)
class Caller:
    """Who a call in flight counts against: a uid, and one of its bus connections."""

    uid: int | None
    """None only for a plain method's call whose connection has not yet been
    identified: such a call ends before any other runs, so it never keeps a
    slot from anyone."""
    connection: str
    """The connection's unique bus name."""


def share(limit: int, held_by_others: int) -> int:
    """The most calls one caller may have in flight: half of what the others
    leave free (rounded up, so a lone slot still goes to someone)."""
    return max(0, limit - held_by_others + 1) // 2


class CallGate:
    """Admits method calls while their caller is within its share, and none once closed.

    A caller past its share fails at once with `Busy` instead of waiting: a
    service that falls behind says so rather than letting its backlog (and its
    callers' latency) grow without bound. The share keeps one caller from
    taking every slot with long calls (a Wait, a lock's wait) and so making the
    service Busy to everyone else: a uid may hold at most half of the slots the
    other uids leave free, and one connection of a uid at most half of what that
    uid's other connections leave it. So a lone flood takes half the slots, a
    second flooding uid half the rest, and anyone else still finds room; only
    the greedy callers are told Busy.
    """

    def __init__(self, limit: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if limit < 1:
            raise ValueError(f"the limit on calls in flight must be at least 1, not {limit}")
        self.limit = limit
        self.in_flight = 0
        self.closed = False
        self._by_uid: Counter[int | None] = Counter()
        self._by_connection: Counter[str] = Counter()
        self._idle = asyncio.Event()
        self._idle.set()

    def held_by(self, caller: Caller) -> tuple[int, int]:
        """The calls in flight of the caller's uid, and of its connection."""
        return self._by_uid[caller.uid], self._by_connection[caller.connection]

    @contextmanager
    def admit(self, caller: Caller) -> Iterator[None]:
        """Count the code run inside as one call in flight of `caller`; Busy or
        Unavailable if refused."""
        self._check(caller)
        self.in_flight += 1
        self._by_uid[caller.uid] += 1
        self._by_connection[caller.connection] += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            # Counters keep no zero entries: their size stays that of the callers in flight.
            self._by_uid[caller.uid] -= 1
            if not self._by_uid[caller.uid]:
                del self._by_uid[caller.uid]
            self._by_connection[caller.connection] -= 1
            if not self._by_connection[caller.connection]:
                del self._by_connection[caller.connection]
            if not self.in_flight:
                self._idle.set()

    def refuse_if_closed(self) -> None:
        """Unavailable once the service is stopping."""
        if self.closed:
            raise Unavailable("the service is shutting down")

    def _check(self, caller: Caller) -> None:
        self.refuse_if_closed()
        if self.in_flight >= self.limit:
            raise Busy(
                f"the service has {self.in_flight} calls in flight, its limit",
                retry_after=RETRY_AFTER_S,
            )
        by_uid, by_connection = self.held_by(caller)
        uid_share = share(self.limit, self.in_flight - by_uid)
        if by_uid >= uid_share:
            who = "the caller" if caller.uid is None else f"uid {caller.uid}"
            raise Busy(
                f"{who} has {by_uid} calls in flight, its share of the service's "
                f"{self.limit} (the rest are kept for others)",
                retry_after=RETRY_AFTER_S,
            )
        connection_share = share(uid_share, by_uid - by_connection)
        if by_connection >= connection_share:
            raise Busy(
                f"this connection has {by_connection} calls in flight, its share of "
                f"the {uid_share} its uid may have",
                retry_after=RETRY_AFTER_S,
            )

    def close(self) -> None:
        """Refuse every call from now on."""
        self.closed = True

    async def drain(self) -> None:
        """Wait until no call is in flight."""
        await self._idle.wait()
