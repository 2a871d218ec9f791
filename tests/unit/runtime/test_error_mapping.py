"""What a caller gets when a method fails: org.noos.Error.* names, and no tracebacks."""

from __future__ import annotations

from typing import Any

import pytest
from dbus_fast import Message, MessageType, Variant

from noos.bus import Connection
from noos.protocol import errors
from noosd.runtime import ServiceHost
from tests.fixtures.probe import PROBE_NAME, PROBE_PATH, SECRET

pytestmark = pytest.mark.usefixtures("probe")

NOOS_ERRORS = [
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Busy",
    "QuotaExceeded",
    "Unavailable",
    "Internal",
]


async def call(connection: Connection, member: str, signature: str = "", *args: Any) -> list[Any]:
    return await connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, member, signature, args)


async def raw_call(connection: Connection, member: str, signature: str, *args: Any) -> Message:
    """A call made by hand, as a client in another language might."""
    return await connection.bus.call(
        Message(
            destination=PROBE_NAME,
            path=PROBE_PATH,
            interface=PROBE_NAME,
            member=member,
            signature=signature,
            body=list(args),
        )
    )


async def assert_still_serving(connection: Connection) -> None:
    assert await call(connection, "Echo", "s", "still here") == ["still here"]


@pytest.mark.parametrize("member", ["Fail", "FailLater"])
@pytest.mark.parametrize("error_name", NOOS_ERRORS)
async def test_noos_errors_reach_the_caller_by_name_with_their_message(
    connection: Connection, member: str, error_name: str
) -> None:
    reply = await raw_call(connection, member, "ss", error_name, "it went wrong")

    assert reply.message_type is MessageType.ERROR
    assert reply.error_name == f"org.noos.Error.{error_name}"
    assert reply.body[0].startswith("it went wrong")
    with pytest.raises(getattr(errors, error_name), match="it went wrong"):
        await call(connection, member, "ss", error_name, "it went wrong")
    await assert_still_serving(connection)


@pytest.mark.parametrize("member", ["Crash", "CrashLater"])
async def test_a_bug_is_internal_without_its_details_and_is_logged(
    connection: Connection, member: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(errors.Internal) as raised:
        await call(connection, member)

    assert raised.value.dbus_name == "org.noos.Error.Internal"
    assert member in raised.value.message
    assert SECRET not in raised.value.message
    assert "Traceback" not in raised.value.message
    assert SECRET in caplog.text and "Traceback" in caplog.text
    await assert_still_serving(connection)


async def test_arguments_of_the_wrong_type_are_invalid(connection: Connection) -> None:
    reply = await raw_call(connection, "Echo", "i", 42)

    assert reply.message_type is MessageType.ERROR
    assert reply.error_name == "org.noos.Error.InvalidArgument"
    assert reply.body[0] == "Echo takes arguments of signature 's', not 'i'"
    await assert_still_serving(connection)


async def test_missing_and_extra_arguments_are_invalid(connection: Connection) -> None:
    for signature, args in [("", ()), ("ss", ("a", "b"))]:
        reply = await raw_call(connection, "Echo", signature, *args)
        assert reply.error_name == "org.noos.Error.InvalidArgument"
    await assert_still_serving(connection)


async def test_a_malformed_name_or_path_is_an_invalid_argument(connection: Connection) -> None:
    assert await call(connection, "CheckPath", "s", "/a/fine/path") == [True]
    with pytest.raises(errors.InvalidArgument, match="invalid object path: not//a path"):
        await call(connection, "CheckPath", "s", "not//a path")
    await assert_still_serving(connection)


async def test_an_unknown_method_is_not_found(connection: Connection) -> None:
    with pytest.raises(errors.NotFound) as raised:
        await call(connection, "NoSuchMethod")
    assert raised.value.dbus_name == "org.freedesktop.DBus.Error.UnknownMethod"
    await assert_still_serving(connection)


async def test_calls_are_refused_once_the_service_stops(
    connection: Connection, probe: ServiceHost
) -> None:
    probe.gate.close()
    with pytest.raises(errors.Unavailable, match="shutting down"):
        await call(connection, "Echo", "s", "anyone?")


@pytest.mark.parametrize(
    ("member", "signature", "args"),
    [
        ("Get", "ss", ("", "Anything")),
        ("GetAll", "s", ("",)),
        ("Set", "ssv", ("", "A", Variant("s", ""))),
    ],
)
async def test_properties_of_an_unnamed_interface_are_an_invalid_argument(
    connection: Connection, member: str, signature: str, args: tuple[Any, ...]
) -> None:
    # Found by the fuzzer: dbus-fast answered org.freedesktop.DBus.Error.NotSupported.
    reply = await connection.bus.call(
        Message(
            destination=PROBE_NAME,
            path=PROBE_PATH,
            interface="org.freedesktop.DBus.Properties",
            member=member,
            signature=signature,
            body=list(args),
        )
    )

    assert reply.error_name == "org.noos.Error.InvalidArgument"
    assert "interface" in reply.body[0]
    await assert_still_serving(connection)
