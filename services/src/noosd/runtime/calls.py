"""The method call being served, as a context variable.

dbus-fast passes a method handler only the call's arguments. `ServiceBus` sets
`Call` around each handler, and asyncio copies the context into the task of an
`async def` method, so the method (and the runtime under it) can see the
message it serves: its sender, hence the caller's uid.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbus_fast import Message

if TYPE_CHECKING:
    from noosd.runtime.caller import CallerUids
    from noosd.runtime.fds import ReceivedFds
    from noosd.runtime.gate import CallGate


@dataclass(frozen=True)
class Call:
    """A method call being served: its message, the descriptors it brought, and
    the service's gate and caller cache."""

    message: Message
    gate: CallGate
    callers: CallerUids
    fds: ReceivedFds


_current_call: ContextVar[Call] = ContextVar("noosd_current_call")


def current_call() -> Call:
    """The call being served; RuntimeError outside a method call of a `ServiceBus`."""
    try:
        return _current_call.get()
    except LookupError:
        raise RuntimeError("not serving a D-Bus method call on a noosd ServiceBus") from None


@contextmanager
def serving(call: Call) -> Iterator[None]:
    """Make `call` the current call for the code run inside."""
    token = _current_call.set(call)
    try:
        yield
    finally:
        _current_call.reset(token)
