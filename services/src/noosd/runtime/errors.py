"""How the failures of a method reach its caller: as D-Bus errors named org.noos.Error.*.

The error classes are the protocol's (`noos.protocol.errors`), so a service
and its clients share one hierarchy; here they become dbus-fast `DBusError`s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from dbus_fast.errors import (
    DBusError,
    InvalidBusNameError,
    InvalidInterfaceNameError,
    InvalidMemberNameError,
    InvalidObjectPathError,
    InvalidSignatureError,
)

from noos.protocol.errors import Internal, InvalidArgument, NoosError

# Raised by dbus_fast.validators when a method checks a name or path it was given.
DBUS_VALIDATION_ERRORS = (
    InvalidBusNameError,
    InvalidInterfaceNameError,
    InvalidMemberNameError,
    InvalidObjectPathError,
    InvalidSignatureError,
)

_log = logging.getLogger(__name__)


class StartupError(Exception):
    """The service cannot start; the message says why, for people."""


def as_dbus_error(error: NoosError) -> DBusError:
    return DBusError(error.dbus_name, error.message)


@contextmanager
def reported_as_dbus_errors(member: str) -> Iterator[None]:
    """Turn what the code inside raises into the D-Bus error its caller gets.

    noos errors keep their name and message; invalid names and paths become
    InvalidArgument; anything else is a bug, logged with its traceback and sent
    as Internal without one (a traceback tells a caller nothing it can act on,
    and discloses the service's insides).
    """
    try:
        yield
    except DBusError:
        raise
    except NoosError as error:
        raise as_dbus_error(error) from error
    except DBUS_VALIDATION_ERRORS as error:
        raise as_dbus_error(InvalidArgument(str(error))) from error
    except Exception as error:
        _log.exception("%s failed", member)
        raise as_dbus_error(
            Internal(f"{member} failed unexpectedly; the service's log has the details")
        ) from error
