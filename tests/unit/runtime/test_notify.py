"""When the watchdog is pinged: half of WATCHDOG_USEC, for the watched process only."""

from __future__ import annotations

import os

from noosd.runtime.notify import watchdog_interval


def test_the_watchdog_is_pinged_at_half_its_timeout() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}) == 2.0


def test_no_watchdog_unless_systemd_asks_for_this_process() -> None:
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
