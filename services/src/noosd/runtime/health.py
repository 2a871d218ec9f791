"""Whether a service's work loops make progress: the watchdog's honest answer.

The event loop answering D-Bus says little: the index's crawler, memory's
store worker or the scheduler's generation threads can be stuck while the
loop still answers every call. So each loop that does work a user waits for
is a `WorkLoop`: it says when it takes an item and when it is done, and long
work beats (`beat()`, from any code the loop's thread runs: an embedding
batch, a file read) so that slow is not mistaken for stuck. A loop busy with
one item and silent for longer than its `stuck_after_s` is stuck: the
runtime then says so in the journal and stops pinging systemd's watchdog,
which kills the service (SIGABRT: faulthandler writes every thread's stack
to the journal) and restarts it.

`WorkLoop.state()` is what the service says of its own progress (the Health
property of org.noos.Service1): counts and times, never what the item was
about (a path of another user's), so that anyone may read it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Far above the longest silence seen from healthy work: a batch of 32 texts
# embedded in a TCG guest takes seconds, a model load under a minute.
DEFAULT_STUCK_AFTER_S = 120.0

_current = threading.local()


@dataclass(frozen=True)
class LoopState:
    """name; busy: an item is in hand; busy_s: since the oldest began;
    silent_s: the longest any item in hand has gone without a beat;
    completed: items done since start; last_done: the wall time the last one
    ended (0: none yet); stuck: silent past its limit; waiting: items queued
    for the loop."""

    name: str
    busy: bool
    busy_s: float
    silent_s: float
    completed: int
    last_done: float
    stuck: bool
    waiting: int

    def describe(self) -> str:
        done = f"{self.completed} done, {self.waiting} waiting"
        if not self.busy:
            return f"{self.name}: idle, {done}"
        return f"{self.name}: busy {self.busy_s:.0f} s, silent {self.silent_s:.0f} s, {done}"


class WorkLoop:
    """One kind of work, as a watchdog sees it: items in hand on one or more
    threads at once (a scheduler generates on several). Thread-safe."""

    def __init__(
        self,
        name: str,
        *,
        stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
        waiting: Callable[[], int] = lambda: 0,
    ) -> None:
        self.name = name
        self.stuck_after_s = stuck_after_s
        self._waiting = waiting
        self._lock = threading.Lock()
        # Per thread with an item in hand: [when it began, its last beat].
        self._items: dict[int, list[float]] = {}
        self._completed = 0
        self._last_done = 0.0

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """One item in hand on the calling thread; `beat()` there counts for it."""
        thread, now = threading.get_ident(), time.monotonic()
        with self._lock:
            self._items[thread] = [now, now]
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
                item[1] = time.monotonic()

    def state(self, now: float | None = None) -> LoopState:
        now = time.monotonic() if now is None else now
        waiting = self._waiting()
        with self._lock:
            began = min((item[0] for item in self._items.values()), default=None)
            beat = min((item[1] for item in self._items.values()), default=now)
            completed, last_done = self._completed, self._last_done
        if began is None:
            return LoopState(self.name, False, 0.0, 0.0, completed, last_done, False, waiting)
        silent = now - beat
        stuck = silent > self.stuck_after_s
        return LoopState(self.name, True, now - began, silent, completed, last_done, stuck, waiting)


def beat() -> None:
    """The calling thread's work goes on (cheap: call it per batch, per file)."""
    loop: WorkLoop | None = getattr(_current, "loop", None)
    if loop is not None:
        loop.beat()


def stuck(loops: Sequence[WorkLoop]) -> list[LoopState]:
    now = time.monotonic()
    return [state for loop in loops if (state := loop.state(now)).stuck]
