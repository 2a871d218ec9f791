"""Running a service as a process: until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from noosd.runtime.host import HostOptions, ServiceHost
from noosd.runtime.service import Service

_log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BUS_LOST = 1


async def run_service(service: Service, options: HostOptions) -> int:
    """Serve `service` until SIGTERM or SIGINT (exit status 0) or until the bus goes (1).

    Raises StartupError if it cannot start.
    """
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop_requested.set)
    host = ServiceHost(service, options)
    await host.start()
    stop_task = asyncio.create_task(stop_requested.wait())
    lost_task = asyncio.create_task(host.bus_lost())
    await asyncio.wait({stop_task, lost_task}, return_when=asyncio.FIRST_COMPLETED)
    stop_task.cancel()
    await host.stop()
    await lost_task
    if stop_requested.is_set():
        return EXIT_OK
    _log.error("lost the connection to the bus")
    return EXIT_BUS_LOST
