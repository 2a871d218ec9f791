"""Telling systemd how the service is doing (sd_notify).

Outside systemd (NOTIFY_SOCKET unset) every notification is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

from systemd import daemon

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

    def _notify(self, *assignments: str) -> None:
        daemon.notify("\n".join(assignments))

    def status(self, status: str) -> None:
        self._notify(f"STATUS={status}")

    def ready(self, status: str) -> None:
        self._notify("READY=1", f"STATUS={status}")

    def stopping(self, status: str) -> None:
        self.stop_watchdog()
        self._notify("STOPPING=1", f"STATUS={status}")

    def start_watchdog(self) -> None:
        """Ping the watchdog from the event loop, if systemd asked for it.

        The pings stop when the loop stalls, which is what the watchdog is for.
        """
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
        while True:
            self._notify("WATCHDOG=1")
            await asyncio.sleep(interval)
