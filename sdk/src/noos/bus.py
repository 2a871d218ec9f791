"""Connections to the bus that the noos services are on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from noos.protocol.errors import Unavailable, from_dbus
from noos.protocol.transport import (
    BUS_ADDRESS_ENV,
    CONNECTION_ERRORS,
    bus_address,
    connect_bus,
    describe_bus,
    disconnect_bus,
    reason,
    system_or_address,
)

__all__ = [
    "BUS_ADDRESS_ENV",
    "CONNECTION_ERRORS",
    "DEFAULT_MAX_IN_FLIGHT",
    "PROPERTIES_INTERFACE",
    "Connection",
    "bus_address",
    "connect_bus",
    "describe_bus",
    "disconnect_bus",
    "reason",
    "system_or_address",
]

# At most this many calls of one connection wait for their replies at once. The
# system bus refuses more than 128 pending replies per connection
# (max_replies_per_connection), and dbus-fast drops its connection when about 500
# calls are in flight (it does not handle EAGAIN on the socket).
DEFAULT_MAX_IN_FLIGHT = 128

PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"


class Closing:
    """`async with` it, and it is closed at the block's end, however it ends."""

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class Connection(Closing):
    """A client's connection to the bus, with a bound on its calls in flight.

    Calls past the bound wait here for a free slot instead of overrunning the
    bus. Several clients may share one connection.
    """

    def __init__(
        self,
        bus: MessageBus,
        address: str | None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        self.bus = bus
        self.address = address
        self._slots = asyncio.Semaphore(max_in_flight)
        self._ended: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        address: str | None = None,
        *,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> Self:
        """Connect to `address`, else $NOOS_BUS_ADDRESS, else the system bus."""
        address = bus_address(address)
        return cls(await connect_bus(address, system_or_address), address, max_in_flight)

    async def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: Sequence[Any] = (),
    ) -> list[Any]:
        """Call a method and return the reply's body; a `NoosError` if it fails."""
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
        async with self._slots:
            try:
                reply = await self.bus.call(message)
            except CONNECTION_ERRORS as exc:
                raise Unavailable(
                    f"lost the connection to {describe_bus(self.address)}: {reason(exc)}"
                ) from exc
        if reply.message_type is MessageType.ERROR:
            error_name = reply.error_name or "org.freedesktop.DBus.Error.Failed"
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else error_name
            raise from_dbus(error_name, text)
        return list(reply.body)

    async def get_property(self, destination: str, path: str, interface: str, name: str) -> Any:
        """The value of a property (unwrapped from its variant)."""
        body = await self.call(
            destination, path, PROPERTIES_INTERFACE, "Get", "ss", (interface, name)
        )
        return body[0].value

    async def get_all_properties(
        self, destination: str, path: str, interface: str
    ) -> dict[str, Any]:
        """Every property of `interface`, by name (each unwrapped from its variant)."""
        (values,) = await self.call(
            destination, path, PROPERTIES_INTERFACE, "GetAll", "s", (interface,)
        )
        return {name: variant.value for name, variant in values.items()}

    def ended(self) -> asyncio.Future[None]:
        """Done once the connection is closed or lost. Shared by whoever asks:
        wait on it with `asyncio.shield` or a done callback, never cancel it
        (cancelling a wait on dbus-fast's own future would cancel that)."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_task(self._wait_for_end())
        return self._ended

    async def _wait_for_end(self) -> None:
        # A lost connection raises its reason here; done is all that is news.
        with contextlib.suppress(Exception):
            await self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        await disconnect_bus(self.bus)
