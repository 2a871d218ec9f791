"""The bus connection of a noosd service."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from dbus_fast import (
    BusType,
    Message,
    MessageFlag,
    MessageType,
    NameFlag,
    RequestNameReply,
    introspection,
)
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError
from dbus_fast.send_reply import SendReply
from dbus_fast.service import ServiceInterface, _Method

from noos.protocol.errors import InvalidArgument, NoosError
from noos.protocol.transport import describe_bus
from noosd.runtime.caller import CallerUids
from noosd.runtime.calls import Call, serving
from noosd.runtime.errors import StartupError
from noosd.runtime.fds import ReceivedFds, fds_taken_by
from noosd.runtime.gate import CallGate

PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
PROPERTY_CALL_SIGNATURES = {"Get": "ss", "GetAll": "s", "Set": "ssv"}

MethodHandler = Callable[[Message, Callable[[Message], None]], None]


class ServiceBus(MessageBus):
    """A dbus-fast bus that serves method calls the noosd way.

    On top of dbus-fast it makes each call's message visible to its method
    (`current_call`), which carries the service's `CallGate` and caller cache,
    it owns the file descriptors every message brings (`ReceivedFds`: a call
    bringing more than its method takes is refused; the rest are closed when
    the dispatch or the call ends, but those its method takes), and it answers
    a call whose arguments do not match the method's signature with
    org.noos.Error.InvalidArgument, saying what was expected (dbus-fast would
    answer UnknownMethod).
    """

    def __init__(self, bus_address: str | None, gate: CallGate) -> None:
        # File descriptors travel: a caller may pass a pipe to stream into.
        super().__init__(bus_address=bus_address, bus_type=BusType.SYSTEM, negotiate_unix_fd=True)
        self.address = bus_address
        self.gate = gate
        self.callers = CallerUids(self)
        self._in_signatures: dict[tuple[str, str, str], str] = {}
        self._fds_taken: dict[tuple[str, str, str], int] = {}
        # The descriptors of the message being dispatched, for its method's Call.
        self._arrived_fds: ReceivedFds | None = None
        # Private subtrees: their prefix, and what a call on one of their
        # objects that is not there is told.
        self._private: dict[str, NoosError] = {}
        self.add_message_handler(self._answer_private_absent)
        self.add_message_handler(self._reject_mismatched_arguments)
        self.add_message_handler(self._refuse_surplus_fds)
        self.add_message_handler(self._refuse_unnamed_property_interface)

    # dbus-fast hands every message it reads to this one method. Whatever the
    # message is (a call of any method, one refused before its method runs, a
    # signal sent to this connection), its descriptors are closed once its
    # dispatch returns, unless a method that runs on as a task now holds them.
    def _process_message(self, msg: Message) -> None:
        if not msg.unix_fds:
            super()._process_message(msg)
            return
        fds = ReceivedFds(msg.unix_fds)
        self._arrived_fds = fds
        try:
            super()._process_message(msg)
        finally:
            self._arrived_fds = None
            if not fds.held_by_task:
                fds.close()

    def export(self, path: str, interface: ServiceInterface) -> None:
        super().export(path, interface)
        for method in interface.introspect().methods:
            self._in_signatures[(path, interface.name, method.name)] = method.in_signature
        for served in ServiceInterface._get_methods(interface):
            self._fds_taken[(path, interface.name, served.name)] = fds_taken_by(served.fn)

    def unexport(self, path: str, interface: ServiceInterface | str | None = None) -> None:
        super().unexport(path, interface)
        # What export noted of its methods goes with it: objects come and go
        # (a job each), and none may be taken for there once it is gone.
        name = interface.name if isinstance(interface, ServiceInterface) else interface
        for noted in (self._in_signatures, self._fds_taken):
            for key in [k for k in noted if k[0] == path and name in (None, k[1])]:
                del noted[key]

    def make_private(self, prefix: str, absent: NoosError) -> None:
        """Keep the objects under `prefix` to those who know their paths.

        dbus-fast tells the whole bus of every object: InterfacesAdded and
        InterfacesRemoved, broadcast when one is exported and unexported, and
        the listings of Introspect (child nodes) and GetManagedObjects, which
        anyone may call. Objects that are one user's (a job) are none of that:
        they are not announced nor listed, and under `prefix` only a call of
        one of the object's own methods, with its arguments' signature, reaches
        it; any other (no such object, a standard interface such as Introspect,
        Properties or Peer, an unknown method, wrong arguments) is answered
        `absent`, as the object's own methods answer a caller they refuse, so
        that no answer tells which paths exist.
        """
        self._private[prefix] = absent

    def _private_prefix(self, path: str) -> str | None:
        return next(
            (prefix for prefix in self._private if path == prefix or path.startswith(prefix + "/")),
            None,
        )

    def _answer_private_absent(self, message: Message) -> Message | bool | None:
        if message.message_type is not MessageType.METHOD_CALL or message.path is None:
            return None
        prefix = self._private_prefix(message.path)
        key = (message.path, message.interface or "", message.member or "")
        if prefix is None or (
            message.path in self._path_exports and self._in_signatures.get(key) == message.signature
        ):
            return None  # not private, or a method of an object there, rightly called
        if message.flags & MessageFlag.NO_REPLY_EXPECTED:
            return True
        absent = self._private[prefix]
        return Message.new_error(message, absent.dbus_name, absent.message)

    def _emit_interface_added(self, path: str, interface: ServiceInterface) -> None:
        if self._private_prefix(path) is None:
            super()._emit_interface_added(path, interface)

    def _emit_interface_removed(self, path: str, removed_interfaces: list[str]) -> None:
        if self._private_prefix(path) is None:
            super()._emit_interface_removed(path, removed_interfaces)

    def _introspect_export_path(self, path: str) -> introspection.Node:
        node = super()._introspect_export_path(path)
        node.nodes = [
            child
            for child in node.nodes
            if self._private_prefix(f"{path.rstrip('/')}/{child.name}") is None
        ]
        return node

    def _default_get_managed_objects_handler(self, msg: Message, send_reply: SendReply) -> None:
        # dbus-fast reads the exports before it returns (the properties may
        # come later, from the interfaces it took): it sees the public ones.
        exports = self._path_exports
        self._path_exports = {
            path: interfaces
            for path, interfaces in exports.items()
            if self._private_prefix(path) is None
        }
        try:
            super()._default_get_managed_objects_handler(msg, send_reply)
        finally:
            self._path_exports = exports

    # dbus-fast builds one handler per exported method through this hook.
    def _make_method_handler(self, interface: ServiceInterface, method: _Method) -> MethodHandler:
        handle = super()._make_method_handler(interface, method)
        # dbus-fast runs a coroutine method as a task that outlives the
        # dispatch. A method that takes descriptors has them until its task
        # ends (`noos_method`'s wrapper closes what it did not take); for any
        # other, they are closed when the dispatch returns.
        keeps_fds_past_dispatch = inspect.iscoroutinefunction(method.fn) and bool(
            fds_taken_by(method.fn)
        )

        def handle_as_current_call(message: Message, send_reply: Callable[[Message], None]) -> None:
            fds = self._arrived_fds or ReceivedFds()
            with serving(Call(message, self.gate, self.callers, fds)):
                handle(message, send_reply)
            # Only now: had the dispatch failed before the task began, the
            # descriptors would still be the dispatch's to close.
            fds.held_by_task = keeps_fds_past_dispatch

        return handle_as_current_call

    # Property reads see their caller too: a property may be per-user (a
    # user's own counts), which needs the caller's uid like a method does.
    def _default_properties_handler(self, message: Message, send_reply: SendReply) -> None:
        with serving(Call(message, self.gate, self.callers, self._arrived_fds or ReceivedFds())):
            super()._default_properties_handler(message, send_reply)

    def _refuse_surplus_fds(self, message: Message) -> Message | bool | None:
        """Refuse, before it runs, a call that brings more descriptors than its method takes.

        Without this, a long call (a Wait) could hold any number of them."""
        if message.message_type is not MessageType.METHOD_CALL or not message.unix_fds:
            return None
        key = (message.path or "", message.interface or "", message.member or "")
        taken = self._fds_taken.get(key)
        if taken is None or len(message.unix_fds) <= taken:
            # Not one of ours (dbus-fast answers it), or within its method's share.
            return None
        if message.flags & MessageFlag.NO_REPLY_EXPECTED:
            return True
        error = InvalidArgument(
            f"{message.member} takes {taken or 'no'} file descriptor{'' if taken == 1 else 's'}, "
            f"not {len(message.unix_fds)}"
        )
        return Message.new_error(message, error.dbus_name, error.message)

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

    # dbus-fast answers org.freedesktop.DBus.Error.NotSupported to a property
    # call whose interface is "" (the spec's "any interface"): a noos error,
    # saying what to do, instead.
    def _refuse_unnamed_property_interface(self, message: Message) -> Message | None:
        if (
            message.message_type is not MessageType.METHOD_CALL
            or message.interface != PROPERTIES_INTERFACE
            or message.member not in PROPERTY_CALL_SIGNATURES
            or message.signature != PROPERTY_CALL_SIGNATURES[message.member]
            or message.body[0] != ""
            or message.flags & MessageFlag.NO_REPLY_EXPECTED
        ):
            return None
        error = InvalidArgument(f"{message.member} needs the name of the property's interface")
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
