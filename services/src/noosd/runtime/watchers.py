"""Signals about one user's data, sent to that user's watching connections alone.

A signal broadcast on the system bus reaches every connection with a
matching rule, whoever owns it; per-uid object paths would not help, as
anyone may match any path. So a service that tells users of changes to
their own data (their counts, their load) sends each change unicast: a
message with its `destination` set, which the bus daemon delivers to that
connection alone, to each connection that asked to watch (a `Watch...`
method), carrying what the uid that connection was (by the bus's account of
it) when it asked may see. A watcher is dropped when it asks (`Unwatch...`)
or when its connection leaves the bus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbus_fast import Message, MessageType

from noosd.runtime.calls import current_call

if TYPE_CHECKING:
    from dbus_fast.aio import MessageBus


class Watchers:
    """The connections that watch their user's view of one service's state."""

    def __init__(self, path: str, interface: str) -> None:
        self._path = path
        self._interface = interface
        self._uids: dict[str, int] = {}  # unique name -> uid watched
        self._bus: MessageBus | None = None

    def add_caller(self, uid: int) -> None:
        """Count the connection of the call being served as a watcher of `uid`'s view."""
        call = current_call()
        sender = call.message.sender
        if not sender:
            return
        if self._bus is None:
            self._bus = call.callers.bus
            # The runtime subscribed the bus to departures (NameOwnerChanged).
            self._bus.add_message_handler(self._forget_departed)
        self._uids[sender] = uid

    def remove_caller(self) -> None:
        """The connection of the call being served watches no more."""
        sender = current_call().message.sender
        if sender:
            self._uids.pop(sender, None)

    def uids(self) -> set[int]:
        return set(self._uids.values())

    def send(
        self,
        uid: int,
        member: str,
        signature: str,
        body: list[object],
        interface: str | None = None,
    ) -> None:
        """Send signal `member` to the connections that watch `uid`, and to no
        other: of the watchers' interface, or of `interface` (PropertiesChanged)."""
        if self._bus is None or not self._bus.connected:
            return
        for unique_name, watched in list(self._uids.items()):
            if watched == uid:
                self._bus.send(
                    Message(
                        message_type=MessageType.SIGNAL,
                        destination=unique_name,
                        path=self._path,
                        interface=interface or self._interface,
                        member=member,
                        signature=signature,
                        body=body,
                    )
                )

    def _forget_departed(self, message: Message) -> None:
        if (
            message.message_type is MessageType.SIGNAL
            and message.member == "NameOwnerChanged"
            and message.sender == "org.freedesktop.DBus"
            and not message.body[2]
        ):
            self._uids.pop(message.body[0], None)
