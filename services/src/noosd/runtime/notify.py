"""Telling systemd how the service is doing (sd_notify).

Outside systemd (NOTIFY_SOCKET unset) every notification is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence

from systemd import daemon

from noosd.runtime.health import WorkLoop, stuck

HEALTH_CHECK_EVERY_S = 10.0

_log = logging.getLogger(__name__)


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between watchdog pings (half of $WATCHDOG_USEC), or None if not asked for."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
        pid = int(environ.get("WATCHDOG_PID") or os.getpid())
    except ValueError:
        return None
    # WATCHDOG_PID names the process systemd watches; a child inheriting the
    # variables is not it.
    if usec <= 0 or pid != os.getpid():
        return None
    return usec / 2 / 1_000_000


class Notifier:
    """Sends the service's state to systemd: READY, STATUS, WATCHDOG, STOPPING."""

    def __init__(self) -> None:
        self._watchdog: asyncio.Task[None] | None = None
        self._work_loops: Callable[[], Sequence[WorkLoop]] = list

    def _notify(self, *assignments: str) -> None:
        daemon.notify("\n".join(assignments))

    def status(self, status: str) -> None:
        self._notify(f"STATUS={status}")

    def ready(self, status: str) -> None:
        self._notify("READY=1", f"STATUS={status}")

    def stopping(self, status: str) -> None:
        self.stop_watchdog()
        self._notify("STOPPING=1", f"STATUS={status}")

    def start_watchdog(self, work_loops: Callable[[], Sequence[WorkLoop]] = list) -> None:
        """Ping the watchdog from the event loop, if systemd asked for it.

        The pings stop when the event loop stalls, or when one of `work_loops`
        is stuck (said once in the journal), which is what the watchdog is for.
        """
        self._work_loops = work_loops
        interval = watchdog_interval()
        if interval is None or self._watchdog is not None:
            return
        _log.debug("pinging the watchdog every %.3g s", interval)
        self._watchdog = asyncio.create_task(self._ping_watchdog(interval))

    def stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _ping_watchdog(self, interval: float) -> None:
        said = False
        while True:
            stuck_loops = stuck(self._work_loops())
            if not stuck_loops:
                self._notify("WATCHDOG=1")
                said = False
            elif not said:
                accounts = "; ".join(state.describe() for state in stuck_loops)
                _log.error("stuck: %s; no longer pinging the watchdog", accounts)
                self._notify(f"STATUS=stuck: {accounts}")
                said = True
            # Often enough that a stuck loop is caught soon after its limit.
            await asyncio.sleep(min(interval, HEALTH_CHECK_EVERY_S))
