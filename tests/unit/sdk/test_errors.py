"""The shared error hierarchy: names on the bus, and translation back to classes."""

from __future__ import annotations

import pytest

from noos.protocol import errors


@pytest.mark.parametrize(
    "cls",
    [
        errors.InvalidArgument,
        errors.NotFound,
        errors.PermissionDenied,
        errors.Busy,
        errors.QuotaExceeded,
        errors.Unavailable,
        errors.Internal,
    ],
)
def test_each_error_round_trips_through_its_dbus_name(cls: type[errors.NoosError]) -> None:
    error = cls("what went wrong")
    assert error.dbus_name == f"org.noos.Error.{cls.__name__}"

    again = errors.from_dbus(error.dbus_name, error.message)

    assert type(again) is cls
    assert str(again) == error.message


def test_an_unknown_noos_error_keeps_its_name() -> None:
    error = errors.from_dbus("org.noos.Error.FromTheFuture", "new")
    assert type(error) is errors.NoosError
    assert error.dbus_name == "org.noos.Error.FromTheFuture"


@pytest.mark.parametrize(
    ("dbus_name", "cls"),
    [
        ("org.freedesktop.DBus.Error.InvalidArgs", errors.InvalidArgument),
        ("org.freedesktop.DBus.Error.AccessDenied", errors.PermissionDenied),
        ("org.freedesktop.DBus.Error.ServiceUnknown", errors.Unavailable),
        ("org.freedesktop.DBus.Error.Spawn.ChildExited", errors.Unavailable),
        ("org.freedesktop.DBus.Error.LimitsExceeded", errors.Busy),
        ("com.example.Whatever", errors.NoosError),
    ],
)
def test_foreign_errors_become_the_nearest_noos_error(
    dbus_name: str, cls: type[errors.NoosError]
) -> None:
    error = errors.from_dbus(dbus_name, "text")
    assert type(error) is cls
    assert error.dbus_name == dbus_name


def test_busy_carries_its_retry_hint_in_the_message() -> None:
    sent = errors.Busy("too much to do", retry_after=0.25)
    assert sent.message == "too much to do; retry after 0.25 s"

    received = errors.from_dbus(sent.dbus_name, sent.message)

    assert isinstance(received, errors.Busy)
    assert received.retry_after == 0.25
