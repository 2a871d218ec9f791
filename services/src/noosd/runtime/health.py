"""Whether a service's work loops make progress: the watchdog's honest answer.

The event loop answering D-Bus says little: the index's crawler, memory's
store worker or the scheduler's generation threads can be stuck while the
loop still answers every call. So each loop that does work a user waits for
is a `WorkLoop`: it says when it takes an item and when it is done, and long
work beats (`beat()`, from any code the loop's thread runs: an embedding
batch, a file read) so that slow is not mistaken for stuck.

Silence is counted in the CPU time of the item's thread, not in wall time:
the index's crawl runs at nice 19 and may get no CPU for minutes while the
user's work runs, which is starved, not stuck; a thread that spins for
`stuck_after_s` of CPU without a beat is stuck. A thread that waits forever
(a deadlock) uses no CPU: it is stuck after `blocked_after_s` of wall time
without a beat. A stuck loop makes the runtime say so in the journal and
stop pinging systemd's watchdog, which kills the service (SIGABRT:
faulthandler writes every thread's stack to the journal) and restarts it.

`WorkLoop.state()` is what the service says of its own progress (the Health
property of org.noos.Service1): counts and times, never what the item was
about (a path of another user's), so that anyone may read it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

# A loop's state is what Health sends: the wire's type.
from noos.protocol.service import LoopState

T = TypeVar("T")

# CPU seconds without a beat: ~5x the longest seen from healthy work, an
# embedding batch of 512 tokens in the slowest TCG guest met (~60 s; 0.3 s on
# the host).
DEFAULT_STUCK_AFTER_S = 300.0
# Wall seconds without a beat for a thread that waits: no healthy wait in a
# noos service lasts this long (a starved crawl still beats as it gets CPU).
DEFAULT_BLOCKED_AFTER_S = 3600.0

_current = threading.local()


class WorkLoop:
    """One kind of work, as a watchdog sees it: items in hand on one or more
    threads at once (a scheduler generates on several). Thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
        blocked_after_s: float = DEFAULT_BLOCKED_AFTER_S,
        waiting: Callable[[], int] = lambda: 0,
    ) -> None:
        self.name = name
        self.stuck_after_s = stuck_after_s
        self.blocked_after_s = blocked_after_s
        self._waiting = waiting
        self._lock = threading.Lock()
        # Per thread with an item in hand: when it began, its last beat (wall
        # and the thread's CPU clock), and that clock.
        self._items: dict[int, _Item] = {}
        self._completed = 0
        self._last_done = 0.0

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """One item in hand on the calling thread; `beat()` there counts for it."""
        thread = threading.get_ident()
        item = _Item(time.monotonic(), time.pthread_getcpuclockid(thread))
        with self._lock:
            self._items[thread] = item
        outer = getattr(_current, "loop", None)
        _current.loop = self
        try:
            yield
        finally:
            _current.loop = outer
            with self._lock:
                self._items.pop(thread, None)
                self._completed += 1
                self._last_done = time.time()

    def run(self, call: Callable[..., T], *args: object) -> T:
        """`call(*args)` as one item of this loop (for executors)."""
        with self.working():
            return call(*args)

    def beat(self) -> None:
        with self._lock:
            item = self._items.get(threading.get_ident())
            if item is not None:
                item.beat()

    def state(self, now: float | None = None) -> LoopState:
        """How the loop is, at monotonic time `now` (tests pass one; the CPU
        times are always the threads' own)."""
        now = time.monotonic() if now is None else now
        waiting = self._waiting()
        with self._lock:
            items = list(self._items.values())
            completed, last_done = self._completed, self._last_done
        if not items:
            return LoopState(self.name, False, 0.0, 0.0, completed, last_done, False, waiting)
        cpu_silent = max(item.cpu_silent() for item in items)
        wall_silent = max(now - item.beat_at for item in items)
        stuck = cpu_silent > self.stuck_after_s or wall_silent > self.blocked_after_s
        busy_s = now - min(item.began for item in items)
        return LoopState(self.name, True, busy_s, cpu_silent, completed, last_done, stuck, waiting)


class _Item:
    """An item in hand, on the thread whose CPU clock is `clock`."""

    def __init__(self, began: float, clock: int) -> None:
        self.began = self.beat_at = began
        self.clock = clock
        self.cpu_at_beat = time.clock_gettime(clock)

    def beat(self) -> None:
        self.beat_at = time.monotonic()
        self.cpu_at_beat = time.clock_gettime(self.clock)

    def cpu_silent(self) -> float:
        return time.clock_gettime(self.clock) - self.cpu_at_beat


def beat() -> None:
    """The calling thread's work goes on (cheap: call it per batch, per file)."""
    loop: WorkLoop | None = getattr(_current, "loop", None)
    if loop is not None:
        loop.beat()


def stuck(loops: Sequence[WorkLoop]) -> list[LoopState]:
    now = time.monotonic()
    return [state for loop in loops if (state := loop.state(now)).stuck]
