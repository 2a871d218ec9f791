"""Recent throughput, and from it how long a refused caller should wait.

Throughput is work (see `jobs`) done per second over a sliding window, or an
assumed rate until there is a second of history with work in it. A full
queue has room again when one queued job starts, that is once some job's
worth of work is done: the retry hint is the mean queued job's work over the
recent rate, times the users that share a slot when the refusal was the
caller's own limit (fair share starts their jobs that much less often).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

# Less than this much history says nothing of the rate.
MIN_SPAN_S = 1.0


class ThroughputMeter:
    def __init__(self, window_s: float, assumed_per_s: float) -> None:
        self.window_s = window_s
        self.assumed_per_s = assumed_per_s
        self._events: deque[tuple[float, float]] = deque()
        self._first_at: float | None = None

    def record(self, work: float, now: float) -> None:
        self._events.append((now, work))
        if self._first_at is None:
            self._first_at = now

    def rate(self, now: float) -> float:
        """Work per second over the window."""
        while self._events and self._events[0][0] < now - self.window_s:
            self._events.popleft()
        work = sum(work for _, work in self._events)
        if self._first_at is None or work <= 0:
            return self.assumed_per_s
        span = min(self.window_s, now - self._first_at)
        return work / span if span >= MIN_SPAN_S else self.assumed_per_s


def retry_after(
    queued_work: Sequence[float], rate: float, sharing: int, bounds: tuple[float, float]
) -> float:
    """Seconds until a queue of jobs of `queued_work` likely has room, within
    bounds; `rate` (work per second) is positive, as `ThroughputMeter.rate` is."""
    low, high = bounds
    if not queued_work:
        return low
    seconds = sum(queued_work) / len(queued_work) / rate * max(1, sharing)
    return round(min(high, max(low, seconds)), 1)
