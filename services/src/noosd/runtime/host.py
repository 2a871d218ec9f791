"""`ServiceHost`: puts one `Service` on the bus, and takes it off again cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass

from dbus_fast.errors import DBusError

from noos.protocol.errors import Unavailable
from noos.protocol.transport import CONNECTION_ERRORS, connect_bus, describe_bus, disconnect_bus
from noosd.runtime.bus import ServiceBus, own_name
from noosd.runtime.errors import StartupError
from noosd.runtime.gate import DEFAULT_MAX_IN_FLIGHT, CallGate
from noosd.runtime.health_interface import HealthInterface
from noosd.runtime.notify import Notifier
from noosd.runtime.service import Service

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostOptions:
    bus_address: str | None = None
    """The bus to serve on; None for the system bus."""
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    """Calls served at once; more fail with org.noos.Error.Busy."""
    drain_timeout: float = 10.0
    """Seconds that stopping waits for the calls in flight to finish."""


class ServiceHost:
    """Serves one `Service` on a bus, between `start` and `stop`."""

    def __init__(
        self,
        service: Service,
        options: HostOptions | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.service = service
        self.options = options or HostOptions()
        self.notifier = notifier or Notifier()
        self.gate = CallGate(self.options.max_in_flight)
        self._bus: ServiceBus | None = None
        self._stopped = False

    @property
    def bus(self) -> ServiceBus:
        if self._bus is None:
            raise RuntimeError("the service host has not started")
        return self._bus

    async def start(self) -> None:
        """Connect, start the service, export it, own its name, then tell systemd READY.

        The name comes last, so a caller who sees it finds the service ready
        (this is also when D-Bus activation hands over queued calls).
        """
        name, where = self.service.bus_name, describe_bus(self.options.bus_address)
        async with AsyncExitStack() as undo:
            self.notifier.start_watchdog(self.service.work_loops)
            undo.callback(self.notifier.stop_watchdog)
            self.notifier.status(f"connecting to {where}")
            try:
                bus = await connect_bus(
                    self.options.bus_address, functools.partial(ServiceBus, gate=self.gate)
                )
            except Unavailable as error:
                raise StartupError(str(error)) from error
            undo.push_async_callback(disconnect_bus, bus)
            await bus.callers.watch_departures()
            self.service.bus = bus
            await self.service.start()
            undo.push_async_callback(self.service.stop)
            for interface in self.service.interfaces():
                bus.export(self.service.object_path, interface)
            bus.export(self.service.object_path, HealthInterface(self.service.work_loops))
            await own_name(bus, name)
            undo.pop_all()
        self._bus = bus
        _log.info("serving %s on %s", name, where)
        self.notifier.ready(f"serving {name}")

    async def stop(self) -> None:
        """Refuse new calls, let those in flight finish (for a while), release the name, leave.

        Stopping twice does nothing the second time."""
        if self._stopped:
            return
        self._stopped = True
        bus, name = self.bus, self.service.bus_name
        self.gate.close()
        self.notifier.stopping(f"stopping, {self.gate.in_flight} calls in flight")
        try:
            async with asyncio.timeout(self.options.drain_timeout):
                await self.gate.drain()
        except TimeoutError:
            _log.warning("stopping with %d calls still in flight", self.gate.in_flight)
        if bus.connected:
            with contextlib.suppress(DBusError, *CONNECTION_ERRORS):
                await bus.release_name(name)
        await self.service.stop()
        await disconnect_bus(bus)
        _log.info("stopped serving %s", name)

    async def bus_lost(self) -> None:
        """Return when the bus connection ends, for whatever reason."""
        disconnected = self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]  # untyped
        # Shielded: cancelling the wait must not cancel the bus's own disconnect future.
        with contextlib.suppress(Exception):
            await asyncio.shield(disconnected)
