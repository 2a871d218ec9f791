"""When to suggest a break: after a long stretch of input without a pause.

A stretch is the time since the first input that came after a pause of at
least PAUSE_S (or since the first input at all); a pause that long is a break
already. The suggestion comes with an input once the stretch has lasted
`break_after_s`, and then again after as long again, unless a pause ended the
stretch meanwhile. Pure: the clock is given, so tests step it by hand.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

PAUSE_S = 5 * 60.0
BREAK_AFTER_ENV = "NOOS_SHELL_BREAK_AFTER_MIN"
DEFAULT_BREAK_AFTER_MIN = 50.0


def break_after_s(environ: Mapping[str, str] = os.environ) -> float | None:
    """The stretch after which a break is suggested, from NOOS_SHELL_BREAK_AFTER_MIN
    (minutes; default 50); None when set to 0 or less: no suggestion at all."""
    text = environ.get(BREAK_AFTER_ENV, "").strip()
    try:
        minutes = float(text) if text else DEFAULT_BREAK_AFTER_MIN
    except ValueError:
        minutes = DEFAULT_BREAK_AFTER_MIN
    return minutes * 60.0 if minutes > 0 else None


class ActivityTracker:
    """The user's stretch of input, and whether a break is due."""

    def __init__(
        self,
        break_after_s: float,
        clock: Callable[[], float] = time.monotonic,
        pause_s: float = PAUSE_S,
    ) -> None:
        self.break_after_s = break_after_s
        self.pause_s = pause_s
        self._clock = clock
        self._last_input: float | None = None
        self._stretch_start = 0.0
        self._suggested_at = 0.0

    def record_input(self) -> float | None:
        """Note an input now; the length of the stretch so far if a break is due, else None."""
        now = self._clock()
        if self._last_input is None or now - self._last_input >= self.pause_s:
            self._stretch_start = self._suggested_at = now
        self._last_input = now
        if now - self._suggested_at < self.break_after_s:
            return None
        self._suggested_at = now
        return now - self._stretch_start
