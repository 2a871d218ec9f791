"""The errors of noos, shared by the services and their clients.

A service raises one of these; the runtime (noosd) sends it as the D-Bus error
`org.noos.Error.<Name>` with its message, and the SDK raises the same class again
on the client's side. Errors that other D-Bus parties send (the bus daemon,
dbus-fast itself) are translated to the nearest noos error, keeping their name.
"""

from __future__ import annotations

import re
from typing import ClassVar

ERROR_PREFIX = "org.noos.Error."


class NoosError(Exception):
    """Base of every noos error; on the bus it is `org.noos.Error.Failed`."""

    short_name: ClassVar[str] = "Failed"

    def __init__(self, message: str, *, dbus_name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The name as it travelled on the bus: a client may meet a name newer
        # than its own SDK, or a foreign one, and should still be able to see it.
        self.dbus_name = dbus_name or ERROR_PREFIX + self.short_name

    def __str__(self) -> str:
        return self.message


class InvalidArgument(NoosError):
    """An argument has the wrong type, is out of range or malformed."""

    short_name = "InvalidArgument"


class NotFound(NoosError):
    """The thing named by an argument does not exist."""

    short_name = "NotFound"


class PermissionDenied(NoosError):
    """The caller may not do this."""

    short_name = "PermissionDenied"


_RETRY_AFTER = re.compile(r"retry after ([0-9.]+) s")


class Busy(NoosError):
    """The service has as much work in flight as it accepts; retry later.

    The hint travels inside the message ("...; retry after 0.5 s") because a D-Bus
    error carries nothing but a name and a string; `retry_after` reads it back.
    """

    short_name = "Busy"
    default_retry_after: ClassVar[float] = 1.0

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        dbus_name: str | None = None,
    ) -> None:
        if retry_after is None:
            found = _RETRY_AFTER.search(message)
            retry_after = float(found[1]) if found else self.default_retry_after
        else:
            message = f"{message}; retry after {retry_after:g} s"
        super().__init__(message, dbus_name=dbus_name)
        self.retry_after = retry_after


class QuotaExceeded(NoosError):
    """The caller keeps as much as one user may (a count or bytes the message
    names); unlike Busy, waiting does not help: free some (forget) to add more."""

    short_name = "QuotaExceeded"


class Unavailable(NoosError):
    """The service or the bus cannot be reached, or is shutting down."""

    short_name = "Unavailable"


class Corrupted(NoosError):
    """The caller's own stored data was found corrupt. The service set the bad
    files aside (renamed `*.corrupt-<UTC time>`, for an administrator to
    inspect) and starts that caller afresh, empty, from the next call; other
    users are unaffected. Derived data (an index, a cache) is rebuilt silently
    instead: this error means data that was the truth is gone."""

    short_name = "Corrupted"


class Internal(NoosError):
    """The service failed in a way it did not expect; its log has the details."""

    short_name = "Internal"


NOOS_ERRORS: dict[str, type[NoosError]] = {
    ERROR_PREFIX + cls.short_name: cls
    for cls in (
        NoosError,
        InvalidArgument,
        NotFound,
        PermissionDenied,
        Busy,
        QuotaExceeded,
        Unavailable,
        Corrupted,
        Internal,
    )
}

# The standard errors a client can meet, by the noos error closest in meaning.
_FREEDESKTOP_ERRORS: dict[str, type[NoosError]] = {
    "org.freedesktop.DBus.Error.InvalidArgs": InvalidArgument,
    "org.freedesktop.DBus.Error.InvalidSignature": InvalidArgument,
    "org.freedesktop.DBus.Error.AccessDenied": PermissionDenied,
    "org.freedesktop.DBus.Error.AuthFailed": PermissionDenied,
    "org.freedesktop.DBus.Error.UnknownMethod": NotFound,
    "org.freedesktop.DBus.Error.UnknownObject": NotFound,
    "org.freedesktop.DBus.Error.UnknownInterface": NotFound,
    "org.freedesktop.DBus.Error.UnknownProperty": NotFound,
    "org.freedesktop.DBus.Error.LimitsExceeded": Busy,
    "org.freedesktop.DBus.Error.ServiceUnknown": Unavailable,
    "org.freedesktop.DBus.Error.NameHasNoOwner": Unavailable,
    "org.freedesktop.DBus.Error.NoReply": Unavailable,
    "org.freedesktop.DBus.Error.Disconnected": Unavailable,
    "org.freedesktop.DBus.Error.TimedOut": Unavailable,
    "org.freedesktop.DBus.Error.Timeout": Unavailable,
}
# Failures of D-Bus activation (org.freedesktop.DBus.Error.Spawn.*).
_SPAWN_ERROR_PREFIX = "org.freedesktop.DBus.Error.Spawn."


def from_dbus(dbus_name: str, message: str) -> NoosError:
    """The noos error for a D-Bus error reply; unknown names become `NoosError`."""
    cls = NOOS_ERRORS.get(dbus_name) or _FREEDESKTOP_ERRORS.get(dbus_name)
    if cls is None:
        cls = Unavailable if dbus_name.startswith(_SPAWN_ERROR_PREFIX) else NoosError
    return cls(message, dbus_name=dbus_name)
