"""The bound on a service's work in flight, and on its calls' waits, shared out
among its callers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from noos.protocol.errors import Busy, Unavailable

DEFAULT_MAX_IN_FLIGHT = 64

# Calls that may wait at once (see `waiting`). A wait costs a future and a
# pending reply, not a share of the CPU: four times the work bound lets a
# client wait on each of many jobs while still bounding what one can pile up.
DEFAULT_MAX_WAITING = 4 * DEFAULT_MAX_IN_FLIGHT

# What a refused caller is told to wait: about the time a typical call takes.
RETRY_AFTER_S = 0.5
# The longest a refusal is held back from a caller who came back too soon
# (`CallGate.hold_refusal`): long enough to slow a flood's round trips to a
# few a second, short enough that a service stopping is not kept waiting.
MAX_HOLD_S = 4 * RETRY_AFTER_S
# Connections whose last refusal's time is kept; past this, those whose time
# has passed are forgotten.
TOLD_KEPT = 4096


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
    """The most slots one caller may hold: half of what the others leave free
    (rounded up, so a lone slot still goes to someone)."""
    return max(0, limit - held_by_others + 1) // 2


class Shares:
    """Slots of one kind (calls working, calls waiting) within a limit, each
    caller's held to its share: a uid at most half of what the other uids
    leave free, one connection of a uid at most half of what that uid's other
    connections leave it."""

    def __init__(self, limit: int, held: str) -> None:
        if limit < 1:
            raise ValueError(f"the limit on {held} must be at least 1, not {limit}")
        self.limit = limit
        self.total = 0
        self._held = held
        self._by_uid: Counter[int | None] = Counter()
        self._by_connection: Counter[str] = Counter()

    def held_by(self, caller: Caller) -> tuple[int, int]:
        """The slots the caller's uid holds, and its connection."""
        return self._by_uid[caller.uid], self._by_connection[caller.connection]

    def check(self, caller: Caller) -> None:
        """Busy if the caller may take no more slots."""
        if self.total >= self.limit:
            raise Busy(
                f"the service has {self.total} {self._held}, its limit",
                retry_after=RETRY_AFTER_S,
            )
        by_uid, by_connection = self.held_by(caller)
        uid_share = share(self.limit, self.total - by_uid)
        if by_uid >= uid_share:
            who = "the caller" if caller.uid is None else f"uid {caller.uid}"
            raise Busy(
                f"{who} has {by_uid} {self._held}, its share of the service's "
                f"{self.limit} (the rest are kept for others)",
                retry_after=RETRY_AFTER_S,
            )
        connection_share = share(uid_share, by_uid - by_connection)
        if by_connection >= connection_share:
            raise Busy(
                f"this connection has {by_connection} {self._held}, its share of "
                f"the {uid_share} its uid may have",
                retry_after=RETRY_AFTER_S,
            )

    def take(self, caller: Caller) -> None:
        self.total += 1
        self._by_uid[caller.uid] += 1
        self._by_connection[caller.connection] += 1

    def give_back(self, caller: Caller) -> None:
        self.total -= 1
        # Counters keep no zero entries: their size stays that of the callers holding slots.
        self._by_uid[caller.uid] -= 1
        if not self._by_uid[caller.uid]:
            del self._by_uid[caller.uid]
        self._by_connection[caller.connection] -= 1
        if not self._by_connection[caller.connection]:
            del self._by_connection[caller.connection]


class Admitted:
    """One admitted call: whether it holds a work slot or, while it waits, a wait slot."""

    def __init__(self, gate: CallGate, caller: Caller) -> None:
        self.gate = gate
        self.caller = caller
        self.waits = 0
        """How many `waiting` blocks of the call are under way (they may overlap)."""
        self.ended = False


# The call admitted in this context: set by `CallGate.admit` for the code it runs.
_admitted: ContextVar[Admitted | None] = ContextVar("noosd_admitted_call", default=None)


class CallGate:
    """Admits method calls while their caller is within its share, and none once closed.

    A caller past its share fails at once with `Busy` instead of waiting: a
    service that falls behind says so rather than letting its backlog (and its
    callers' latency) grow without bound. The share keeps one caller from
    taking every slot and so making the service Busy to everyone else: a lone
    flood takes half the slots, a second flooding uid half the rest, and
    anyone else still finds room; only the greedy callers are told Busy.

    A call that only waits (for a job's end, for a worker to take it up:
    `waiting`) gives its work slot back meanwhile and holds a wait slot, of a
    larger budget shared out the same way. So many waits of one caller keep
    neither its own ordinary calls nor anyone else's out, and still have a
    bound.

    A refusal costs the service a call's decoding and an error's sending: a
    flood that sends each refused call again at once, whatever retry_after
    said, would spend the CPU others wait on refusing it. So a connection
    that comes back before its last refusal said is answered only then
    (`hold_refusal`).
    """

    def __init__(
        self, limit: int = DEFAULT_MAX_IN_FLIGHT, wait_limit: int = DEFAULT_MAX_WAITING
    ) -> None:
        self.work = Shares(limit, "calls in flight")
        self.waits = Shares(wait_limit, "calls waiting")
        self.closed = False
        self._idle = asyncio.Event()
        self._idle.set()
        # Per connection, the loop time before which its last refusal said not to retry.
        self._told: dict[str, float] = {}

    @property
    def limit(self) -> int:
        return self.work.limit

    @property
    def in_flight(self) -> int:
        """Calls admitted and not yet ended, working or waiting."""
        return self.work.total + self.waits.total

    def held_by(self, caller: Caller) -> tuple[int, int]:
        """The work slots the caller's uid holds, and its connection."""
        return self.work.held_by(caller)

    @contextmanager
    def admit(self, caller: Caller) -> Iterator[None]:
        """Count the code run inside as one call in flight of `caller`; Busy or
        Unavailable if refused."""
        self.refuse_if_closed()
        self.work.check(caller)
        self.work.take(caller)
        self._idle.clear()
        call = Admitted(self, caller)
        token = _admitted.set(call)
        try:
            yield
        finally:
            _admitted.reset(token)
            call.ended = True
            (self.waits if call.waits else self.work).give_back(caller)
            if not self.in_flight:
                self._idle.set()

    async def hold_refusal(self, caller: Caller, refused: Busy) -> None:
        """Hold `refused`, the answer to a call of `caller`, until the time an
        earlier refusal of its connection said to retry after (at most
        MAX_HOLD_S), if the call came before it: a flood ignoring the hint then
        costs one refusal per retry_after, not one per round trip, while a
        client that heeds it is answered at once. A held call takes a wait
        slot; without one left to the caller, it is answered at once."""
        now = asyncio.get_running_loop().time()
        due = self._told.get(caller.connection, now)
        self._told[caller.connection] = max(due, now + refused.retry_after)
        if len(self._told) > TOLD_KEPT:
            self._told = {name: at for name, at in self._told.items() if at > now}
        if due <= now or self.closed:
            return
        try:
            self.waits.check(caller)
        except Busy:
            return
        self.waits.take(caller)
        self._idle.clear()
        try:
            await asyncio.sleep(min(due - now, MAX_HOLD_S))
        finally:
            self.waits.give_back(caller)
            if not self.in_flight:
                self._idle.set()

    def refuse_if_closed(self) -> None:
        """Unavailable once the service is stopping."""
        if self.closed:
            raise Unavailable("the service is shutting down")

    def close(self) -> None:
        """Refuse every call from now on."""
        self.closed = True

    async def drain(self) -> None:
        """Wait until no call is in flight."""
        await self._idle.wait()


def admitted_uid() -> int | None:
    """The uid of the method call being served; None outside one."""
    call = _admitted.get()
    return None if call is None or call.ended else call.caller.uid


@contextmanager
def waiting() -> Iterator[None]:
    """Count the method call being served as waiting, not working, for the code
    run inside: its work slot is given back for a wait slot (Busy if the caller
    has its share of those), and taken again after, past the bound if need be,
    since the call was admitted already. Wrap awaits that only wait: for a
    job's end, for a worker thread to run the call. Outside a method call (a
    service's own background work), it does nothing.
    """
    call = _admitted.get()
    if call is None or call.ended:
        yield
        return
    gate = call.gate
    if not call.waits:
        gate.waits.check(call.caller)
        gate.work.give_back(call.caller)
        gate.waits.take(call.caller)
    call.waits += 1
    try:
        yield
    finally:
        call.waits -= 1
        if not call.waits and not call.ended:
            gate.waits.give_back(call.caller)
            gate.work.take(call.caller)
