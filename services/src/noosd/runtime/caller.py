"""Who is calling: the caller's uid, as the bus daemon knows it.

A method never takes the caller's identity from its arguments: the bus daemon
learnt each connection's uid from the kernel (SO_PEERCRED) when it connected,
and `caller_uid` asks the daemon for it.
"""

from __future__ import annotations

import logging

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from noos.protocol.actions import Action
from noos.protocol.errors import PermissionDenied
from noosd.runtime.authority import authorize
from noosd.runtime.calls import current_call
from noosd.runtime.gate import Caller

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"

# Only a name's loss matters here: NameOwnerChanged with an empty new owner.
DEPARTURES_RULE = (
    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
    "member='NameOwnerChanged',arg2=''"
)

_log = logging.getLogger(__name__)


def bus_method_call(member: str, signature: str = "", *args: object) -> Message:
    """A call of a method of the bus daemon itself."""
    return Message(
        destination=DBUS_NAME,
        path=DBUS_PATH,
        interface=DBUS_NAME,
        member=member,
        signature=signature,
        body=list(args),
    )


class CallerUids:
    """The uid behind each connection that calls the service, asked of the bus once.

    Unique names are never reused in a bus's lifetime, so an entry never goes
    stale; it is dropped when its connection leaves the bus only to keep the
    cache as small as the set of live callers.
    """

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self._uids: dict[str, int] = {}

    def __contains__(self, unique_name: str) -> bool:
        return unique_name in self._uids

    def known_uid(self, unique_name: str) -> int | None:
        """The uid of `unique_name` if it was asked already; None, without asking, if not."""
        return self._uids.get(unique_name)

    async def watch_departures(self) -> None:
        """Subscribe to the departures of connections, to forget them."""
        self.bus.add_message_handler(self._forget_departed)
        reply = await self.bus.call(bus_method_call("AddMatch", "s", DEPARTURES_RULE))
        if reply.message_type is MessageType.ERROR:
            raise RuntimeError(f"the bus refused to report departures: {reply.body}")

    def _forget_departed(self, message: Message) -> None:
        if (
            message.message_type is MessageType.SIGNAL
            and message.member == "NameOwnerChanged"
            and message.sender == DBUS_NAME
            and not message.body[2]
        ):
            self._uids.pop(message.body[0], None)

    async def uid_of(self, unique_name: str) -> int:
        """The uid of the connection `unique_name`."""
        if (uid := self._uids.get(unique_name)) is not None:
            return uid
        reply = await self.bus.call(bus_method_call("GetConnectionUnixUser", "s", unique_name))
        if reply.message_type is MessageType.ERROR:
            # The caller left before the daemon could answer; no one is owed a reply.
            raise PermissionDenied(f"cannot tell who {unique_name} is: {reply.body[0]}")
        uid = int(reply.body[0])
        self._uids[unique_name] = uid
        return uid


async def caller_uid() -> int:
    """The uid of whoever made the method call being served."""
    call = current_call()
    sender = call.message.sender
    if not sender:
        raise PermissionDenied("the call has no sender to identify")
    return await call.callers.uid_of(sender)


async def current_caller() -> Caller:
    """Who the call being served counts against in the `CallGate`: its uid and connection."""
    sender = current_call().message.sender
    if not sender:
        raise PermissionDenied("the call has no sender to identify")
    return Caller(await caller_uid(), sender)


def known_caller() -> Caller:
    """`current_caller` without waiting for the bus: the uid None if not known yet.

    For a plain method, which cannot wait: it ends before any other call runs,
    so it never keeps a slot from anyone, whatever uid it counts against.
    """
    call = current_call()
    sender = call.message.sender or ""
    return Caller(call.callers.known_uid(sender), sender)


async def caller_uid_if_any() -> int | None:
    """The caller's uid, or None when no call is being served.

    dbus-fast also reads properties with no caller: when it announces an
    exported object (InterfacesAdded). A per-user property then has no user.
    """
    try:
        current_call()
    except RuntimeError:
        return None
    return await caller_uid()


async def effective_uid(
    caller: int, for_uid: int | None, action: Action, *, may_prompt: bool = True
) -> int:
    """The uid whose data a call on per-user data acts on.

    A caller acts on its own data. Another user's only by naming that user in
    `for_uid`, an argument of the method, and only if it may do `action`:
    root may, anyone else as polkit says (`authorize`). Each such call is
    logged. `for_uid` None or negative means the caller itself, so a D-Bus
    method takes it as an `i` where -1 means "myself". Anyone else naming
    another user gets PermissionDenied (polkit asks for no password where
    not `may_prompt`).
    """
    if for_uid is None or for_uid < 0 or for_uid == caller:
        return caller
    await authorize(caller, action, may_prompt=may_prompt)
    _log.info("uid %d acts for uid %d in %s", caller, for_uid, _served_member())
    return for_uid


def _served_member() -> str:
    try:
        message = current_call().message
    except RuntimeError:
        return "a call outside D-Bus"
    return f"{message.interface}.{message.member}"


def signal_caller(
    path: str, interface: str, member: str, signature: str, body: list[object]
) -> None:
    """Send signal `member` to the caller of the current call only.

    A broadcast on the system bus reaches every user; a signal about per-user
    data (what a user just remembered) must reach only that user's connection.
    """
    call = current_call()
    if not call.message.sender:
        return
    call.callers.bus.send(
        Message(
            message_type=MessageType.SIGNAL,
            destination=call.message.sender,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body,
        )
    )
