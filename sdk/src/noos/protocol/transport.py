"""How both ends reach the bus the noos services are on: its address, connecting, failures.

The SDK's `Connection` and the services' runtime connect the same way, and
report a bus they cannot reach in the same words.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from dbus_fast import BusType
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusFastError

from noos.protocol.errors import Unavailable

BUS_ADDRESS_ENV = "NOOS_BUS_ADDRESS"

BusT = TypeVar("BusT", bound=MessageBus)

# What a broken connection raises out of dbus-fast: socket errors, EOF, auth failures.
CONNECTION_ERRORS = (OSError, EOFError, DBusFastError)


def bus_address(explicit: str | None = None) -> str | None:
    """The bus to use: `explicit`, else $NOOS_BUS_ADDRESS, else None (the system bus)."""
    return explicit or os.environ.get(BUS_ADDRESS_ENV) or None


def describe_bus(address: str | None) -> str:
    return f"the bus at {address}" if address else "the system bus"


def system_or_address(address: str | None) -> MessageBus:
    """An unconnected dbus-fast bus for `address`, the system bus when it is None."""
    return MessageBus(bus_address=address, bus_type=BusType.SYSTEM)


async def connect_bus(address: str | None, make_bus: Callable[[str | None], BusT]) -> BusT:
    """Connect `make_bus(address)`; `Unavailable`, saying why, when that fails."""
    try:
        bus = make_bus(address)
        await bus.connect()
    except CONNECTION_ERRORS as exc:
        raise Unavailable(f"cannot connect to {describe_bus(address)}: {reason(exc)}") from exc
    writer = bus._writer  # dbus-fast's, made by connect()
    if writer is not None and writer.sock is not None:
        # The writer calls nothing but send and sendmsg on it.
        writer.sock = WaitingSocket(writer.sock)  # type: ignore[assignment]
    return bus


class WaitingSocket:
    """A bus socket whose `send` says "nothing sent" where the socket is full.

    dbus-fast's writer takes the BlockingIOError of a full socket for a broken
    connection and drops it (python-dbus-next issue 153): a service whose
    replies outrun the bus daemon for a moment (a caller's many calls with
    long arguments, echoed in the errors) lost its bus and exited. Told that
    nothing was sent, the writer waits until the socket is writable, as it
    does after a partial write. `sendmsg` (a message that carries descriptors;
    the services send none) is dbus-fast's own.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def send(self, data: Any) -> int:
        try:
            return self._sock.send(data)
        except BlockingIOError:
            return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


async def disconnect_bus(bus: MessageBus) -> None:
    """Disconnect `bus`, if it is still connected, and wait until it is."""
    if bus.connected:
        bus.disconnect()
        await bus.wait_for_disconnect()  # type: ignore[no-untyped-call]  # untyped in dbus-fast


def reason(exc: BaseException) -> str:
    """A one-line account of a connection failure, for people."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
