"""`FairTurns`: turns at a few worker threads, given round-robin among callers."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from noosd.runtime.gate import admitted_uid, waiting


class FairTurns:
    """Turns at `width` workers for the method calls that need one: while all
    are taken, each uid's calls queue apart, and a freed worker goes to the
    next uid in turn (first come, first served within a uid).

    A thread pool serves its queue in arrival order, so a user who queues a
    hundred calls makes everyone else's next call wait for all of them; here
    it waits for at most one call of each other uid queued. Calls outside a
    method call (a service's own background work) queue together, as one more
    caller. Queued, a call holds a wait slot, not a work slot (`waiting`).
    """

    def __init__(self, width: int = 1) -> None:
        self.width = width
        self._running = 0
        # uid -> its calls' futures, waiting for a turn; in the order the uids get turns.
        self._queues: OrderedDict[int | None, deque[asyncio.Future[None]]] = OrderedDict()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a worker's turn, then hold it for the code run inside."""
        if self._running < self.width and not self._queues:
            self._running += 1
        else:
            await self._queue(admitted_uid())
        try:
            yield
        finally:
            self._pass_on()

    async def _queue(self, uid: int | None) -> None:
        turn = asyncio.get_running_loop().create_future()
        self._queues.setdefault(uid, deque()).append(turn)
        try:
            with waiting():
                await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._pass_on()  # given the turn as it was cancelled: hand it on
            else:
                self._forget(uid, turn)
            raise

    @property
    def queued(self) -> int:
        """Calls waiting for a turn."""
        return sum(map(len, self._queues.values()))

    def _forget(self, uid: int | None, turn: asyncio.Future[None]) -> None:
        queue = self._queues.get(uid)
        if queue is not None and turn in queue:
            queue.remove(turn)
            if not queue:
                del self._queues[uid]

    def _pass_on(self) -> None:
        """The turn just ended goes to the next uid in line, if any is waiting."""
        while self._queues:
            uid, queue = next(iter(self._queues.items()))
            del self._queues[uid]
            turn = queue.popleft()
            if queue:  # to the back of the line
                self._queues[uid] = queue
            if not turn.done():  # else cancelled, its task not yet told
                turn.set_result(None)
                return
        self._running -= 1
