"""Watches: typed async iterators over what a service says on its own.

A `Watch` subscribes to one kind of signal with a match rule, decodes each
message into a typed value, and unsubscribes when it is closed:

    async with scheduler.watch() as changes:
        async for change in changes:
            print(change.resident)

The clients build their watches on `Watch` (`Scheduler.watch`,
`Index.watch_progress`, `Memory.watch_stats`); `watch_services` follows
services that appear on the bus and leave it. Entering the `async with`
subscribes before its body runs, so nothing said after that is missed; a bare
`async for` subscribes on its first step, and `aclose` (or leaving the
`async with`) unsubscribes. Once the connection is lost the iteration raises
`Unavailable`.

A signal sent to our connection by name is delivered whatever our match
rules say, and any user on the bus may send one: a watch of a service's
signals (`sender`) believes only those whose sender is the current owner of
the service's bus name, and follows NameOwnerChanged, so a restarted service
is believed and the one it replaced is not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from dbus_fast import Message, MessageType

from noos.bus import PROPERTIES_INTERFACE, Connection, describe_bus
from noos.protocol.errors import NoosError, Unavailable

T = TypeVar("T")
U = TypeVar("U")

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
NAME_HAS_NO_OWNER = "org.freedesktop.DBus.Error.NameHasNoOwner"


def match_rule(**keys: str) -> str:
    """A D-Bus match rule for signals, from its keys (`sender`, `path`, `arg0`…)."""
    quoted = ",".join(f"{key}='{value}'" for key, value in keys.items())
    return f"type='signal',{quoted}"


@dataclass(frozen=True)
class PropertiesChanged:
    """One PropertiesChanged of an interface: the new values (unwrapped from
    their variants), and the names of the properties that changed without one."""

    interface: str
    changed: dict[str, Any]
    invalidated: tuple[str, ...]


@dataclass(frozen=True)
class ServiceChange:
    """A bus name that got an owner (the service came) or lost it (it left)."""

    bus_name: str
    old_owner: str
    new_owner: str

    @property
    def appeared(self) -> bool:
        return bool(self.new_owner)

    @property
    def vanished(self) -> bool:
        return not self.new_owner


# What a closed watch puts in its queue to end the iteration.
_END = object()


def name_owner_rule(bus_name: str) -> str:
    """The match of the bus's NameOwnerChanged for `bus_name` alone."""
    return match_rule(
        sender=DBUS_NAME,
        path=DBUS_PATH,
        interface=DBUS_NAME,
        member="NameOwnerChanged",
        arg0=bus_name,
    )


def is_owner_change_of(message: Message, bus_name: str) -> bool:
    """Whether `message` is the bus saying that `bus_name` changed hands.
    Only the bus daemon can send as org.freedesktop.DBus."""
    return (
        message.sender == DBUS_NAME
        and message.interface == DBUS_NAME
        and message.member == "NameOwnerChanged"
        and message.signature == "sss"
        and message.body[0] == bus_name
    )


class Watch(Generic[T]):
    """The values that one kind of signal carries, decoded, as they come.

    `decode` turns a message that matches one of `rules` into a value, or None to skip
    it. `subscribe`, if given, is called after the match is added (a service
    that sends its signals to subscribers only is asked here) and returns the
    values to yield first, such as the current state; `unsubscribe` undoes it.
    `sender`, if given, is the bus name of the service that sends the signals:
    only a message from its current owner (a unique name) is decoded.
    """

    def __init__(
        self,
        connection: Connection,
        rules: Sequence[str],
        decode: Callable[[Message], T | None],
        *,
        subscribe: Callable[[], Awaitable[Iterable[T]]] | None = None,
        unsubscribe: Callable[[], Awaitable[None]] | None = None,
        sender: str | None = None,
    ) -> None:
        self.connection = connection
        self.sender = sender
        self.rules = tuple(rules) if sender is None else (*rules, name_owner_rule(sender))
        self._given_rules = tuple(rules)
        self._decode = decode
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self._pending: deque[Any] = deque()
        self._arrived = asyncio.Event()
        self._started = False
        self._closed = False
        self._ended: asyncio.Future[None] | None = None
        self._added: list[str] = []
        self._subscribed = False
        # The unique name of `sender`'s owner ("" while it has none), once the
        # bus has said it; the messages that come before are held till then.
        self._owner: str | None = None
        self._held: list[Message] = []

    def map(self, convert: Callable[[T], U]) -> Watch[U]:
        """A watch of the same signals whose values are `convert`ed: a typed
        view over a generic one. Call it on a watch not yet started."""
        decode, subscribe = self._decode, self._subscribe

        def decode_converted(message: Message) -> U | None:
            value = decode(message)
            return None if value is None else convert(value)

        async def subscribe_converted() -> list[U]:
            return [] if subscribe is None else [convert(value) for value in await subscribe()]

        return Watch(
            self.connection,
            self._given_rules,
            decode_converted,
            subscribe=subscribe_converted,
            unsubscribe=self._unsubscribe,
            sender=self.sender,
        )

    async def start(self) -> Self:
        """Subscribe, if not done yet; signals from now on are kept for the iteration."""
        if self._started or self._closed:
            return self
        self._started = True
        bus = self.connection.bus
        bus.add_message_handler(self._receive)
        try:
            for rule in self.rules:
                await self._bus_call("AddMatch", rule)
                self._added.append(rule)
            if self.sender is not None:
                await self._learn_owner(self.sender)
            if self._subscribe is not None:
                first = list(await self._subscribe())
                self._subscribed = True
                # Signals that came before the subscription's reply are newer
                # than what the reply says: the reply's values go first.
                self._pending.extendleft(reversed(first))
                if self._pending:
                    self._arrived.set()
        except BaseException:
            await self.aclose()
            raise
        self._ended = self.connection.ended()
        self._ended.add_done_callback(self._connection_ended)
        return self

    async def aclose(self) -> None:
        """Unsubscribe and end the iteration; a lost connection has nothing to undo."""
        if self._closed:
            return
        self._closed = True
        self._push(_END)
        if self._ended is not None:
            self._ended.remove_done_callback(self._connection_ended)
        if not self._started:
            return
        self.connection.bus.remove_message_handler(self._receive)
        if not self.connection.bus.connected:
            return
        # Best effort: a service gone meanwhile has forgotten its subscriber anyway.
        if self._unsubscribe is not None and self._subscribed:
            with contextlib.suppress(NoosError):
                await self._unsubscribe()
        while self._added:
            with contextlib.suppress(NoosError):
                await self._bus_call("RemoveMatch", self._added.pop())

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        await self.start()
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        item = self._pending.popleft()
        if item is _END:
            self._pending.appendleft(_END)  # every later step ends too
            raise StopAsyncIteration
        if isinstance(item, Unavailable):
            raise item
        return item  # type: ignore[no-any-return]  # only decoded values besides

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _receive(self, message: Message) -> None:
        # Returns None, never "handled": other handlers may want the message too.
        if message.message_type is not MessageType.SIGNAL or self._closed:
            return
        if self.sender is not None:
            if self._owner is None:
                self._held.append(message)
                return
            if is_owner_change_of(message, self.sender):
                self._owner = message.body[2]
                return
            if not self._owner or message.sender != self._owner:
                return  # forged, or from a service that has left the name
        value = self._decode(message)
        if value is not None:
            self._push(value)

    def _push(self, item: object) -> None:
        self._pending.append(item)
        self._arrived.set()

    def _connection_ended(self, _: asyncio.Future[None]) -> None:
        if not self._closed:
            where = describe_bus(self.connection.address)
            self._push(Unavailable(f"lost the connection to {where}"))

    async def _learn_owner(self, bus_name: str) -> None:
        """Ask the bus who owns `bus_name` now, then judge what came meanwhile.
        Asked after the NameOwnerChanged match is on: no change is missed."""
        try:
            (owner,) = await self.connection.call(
                DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s", (bus_name,)
            )
        except Unavailable as error:
            if error.dbus_name != NAME_HAS_NO_OWNER:
                raise
            owner = ""
        self._owner = str(owner)
        held, self._held = self._held, []
        for message in held:
            self._receive(message)

    async def _bus_call(self, member: str, rule: str) -> None:
        await self.connection.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, member, "s", (rule,))


def watch_properties(
    connection: Connection,
    bus_name: str,
    path: str,
    interface: str,
    *,
    subscribe: Callable[[], Awaitable[Iterable[PropertiesChanged]]] | None = None,
    unsubscribe: Callable[[], Awaitable[None]] | None = None,
) -> Watch[PropertiesChanged]:
    """The PropertiesChanged of `interface` at `path` of the service `bus_name`
    (`subscribe` and `unsubscribe`: as `Watch` takes them, for a service that
    sends them to its watchers alone)."""
    rule = match_rule(
        sender=bus_name,
        path=path,
        interface=PROPERTIES_INTERFACE,
        member="PropertiesChanged",
        arg0=interface,
    )

    def decode(message: Message) -> PropertiesChanged | None:
        if (
            message.interface != PROPERTIES_INTERFACE
            or message.member != "PropertiesChanged"
            or message.path != path
            or message.signature != "sa{sv}as"
            or message.body[0] != interface
        ):
            return None
        name, changed, invalidated = message.body
        values = {key: variant.value for key, variant in changed.items()}
        return PropertiesChanged(name, values, tuple(invalidated))

    return Watch(
        connection, [rule], decode, subscribe=subscribe, unsubscribe=unsubscribe, sender=bus_name
    )


def watch_signal(
    connection: Connection,
    bus_name: str,
    path: str,
    interface: str,
    member: str,
    signature: str,
    decode: Callable[[list[Any]], T],
    *,
    subscribe: Callable[[], Awaitable[Iterable[T]]] | None = None,
    unsubscribe: Callable[[], Awaitable[None]] | None = None,
) -> Watch[T]:
    """The signal `interface`.`member` of `bus_name` at `path`, each body
    decoded (`subscribe`, `unsubscribe`: as `watch_properties` takes them)."""
    rule = match_rule(sender=bus_name, path=path, interface=interface, member=member)

    def decode_message(message: Message) -> T | None:
        if (
            message.interface != interface
            or message.member != member
            or message.path != path
            or message.signature != signature
        ):
            return None
        return decode(message.body)

    return Watch(
        connection,
        [rule],
        decode_message,
        subscribe=subscribe,
        unsubscribe=unsubscribe,
        sender=bus_name,
    )


def watch_services(connection: Connection, bus_names: Iterable[str]) -> Watch[ServiceChange]:
    """The services named `bus_names` appearing on the bus and leaving it.

    One match per name (arg0): a match without it would bring every
    connection's coming and going on a busy system bus."""
    wanted = frozenset(bus_names)
    rules = [
        match_rule(
            sender=DBUS_NAME,
            path=DBUS_PATH,
            interface=DBUS_NAME,
            member="NameOwnerChanged",
            arg0=name,
        )
        for name in sorted(wanted)
    ]

    def decode(message: Message) -> ServiceChange | None:
        if (
            message.member != "NameOwnerChanged"
            or message.interface != DBUS_NAME
            or message.sender != DBUS_NAME
            or message.body[0] not in wanted
        ):
            return None
        return ServiceChange(*message.body)

    return Watch(connection, rules, decode)
