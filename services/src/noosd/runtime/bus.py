"""The bus connection of a noosd service."""

from __future__ import annotations

from collections.abc import Callable

from dbus_fast import BusType, Message, MessageFlag, MessageType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError
from dbus_fast.send_reply import SendReply
from dbus_fast.service import ServiceInterface, _Method

from noos.protocol.errors import InvalidArgument
from noos.protocol.transport import describe_bus
from noosd.runtime.caller import CallerUids
from noosd.runtime.calls import Call, serving
from noosd.runtime.errors import StartupError
from noosd.runtime.gate import CallGate

MethodHandler = Callable[[Message, Callable[[Message], None]], None]


class ServiceBus(MessageBus):
    """A dbus-fast bus that serves method calls the noosd way.

    On top of dbus-fast it makes each call's message visible to its method
    (`current_call`), which carries the service's `CallGate` and caller cache,
    and it answers a call whose arguments do not match the method's signature
    with org.noos.Error.InvalidArgument, saying what was expected (dbus-fast
    would answer UnknownMethod).
    """

    def __init__(self, bus_address: str | None, gate: CallGate) -> None:
        # File descriptors travel: a caller may pass a pipe to stream into.
        super().__init__(bus_address=bus_address, bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
        self.address = bus_address
        self.gate = gate
        self.callers = CallerUids(self)
        self._in_signatures: dict[tuple[str, str, str], str] = {}
        self.add_message_handler(self._reject_mismatched_arguments)

    def export(self, path: str, interface: ServiceInterface) -> None:
        super().export(path, interface)
        for method in interface.introspect().methods:
            self._in_signatures[(path, interface.name, method.name)] = method.in_signature

    # dbus-fast builds one handler per exported method through this hook.
    def _make_method_handler(self, interface: ServiceInterface, method: _Method) -> MethodHandler:
        handle = super()._make_method_handler(interface, method)

        def handle_as_current_call(message: Message, send_reply: Callable[[Message], None]) -> None:
            with serving(Call(message, self.gate, self.callers)):
                handle(message, send_reply)

        return handle_as_current_call

    # Property reads see their caller too: a property may be per-user (a
    # user's own counts), which needs the caller's uid like a method does.
    def _default_properties_handler(self, message: Message, send_reply: SendReply) -> None:
        with serving(Call(message, self.gate, self.callers)):
            super()._default_properties_handler(message, send_reply)

    def _reject_mismatched_arguments(self, message: Message) -> Message | None:
        if (
            message.message_type is not MessageType.METHOD_CALL
            or message.interface is None
            or message.flags & MessageFlag.NO_REPLY_EXPECTED
        ):
            return None
        key = (message.path or "", message.interface, message.member or "")
        expected = self._in_signatures.get(key)
        if expected is None or expected == message.signature:
            return None
        error = InvalidArgument(
            f"{message.member} takes arguments of signature '{expected}', not '{message.signature}'"
        )
        return Message.new_error(message, error.dbus_name, error.message)


async def own_name(bus: ServiceBus, name: str) -> None:
    """Become the owner of `name`, or raise StartupError: never wait in a queue for it."""
    where = describe_bus(bus.address)
    try:
        reply = await bus.request_name(name, NameFlag.DO_NOT_QUEUE)
    except DBusError as error:
        raise StartupError(f"may not own {name} on {where}: {error.text}") from error
    if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
        raise StartupError(f"{name} is already owned by another connection on {where}")
