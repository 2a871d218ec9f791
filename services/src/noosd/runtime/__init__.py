"""The runtime shared by the noos services.

A service is a `Service` subclass naming its bus name and object path and
listing its interfaces (`NoosInterface`s, whose introspection names the keys
of each `a{sv}` from `noos.protocol`), whose methods are marked `@noos_method()`;
it registers itself in the `noosd.services` entry-point group, and
`noosd NAME` serves it. Methods raise the errors of `noos.protocol.errors`, learn who
calls them from `caller_uid()`, and check access to per-user data with
`effective_uid()`; a privileged method names its polkit action
(`noos_method(action=...)`, from `noos.protocol.actions`). Its settings are a
`SettingsTable` (`noosd.runtime.settings`: files in /etc/noos, then the
environment), and it is built from their values.
Everything else — the bus, the name, systemd notification,
logging, the bound on calls in flight and each caller's share of it (a call
that only waits, inside `waiting()` or queued for a worker's turn, which
`FairTurns` gives round the users, holds a wait slot instead), the file
descriptors calls bring, clean shutdown — is the runtime's.
"""

from noosd.runtime.caller import caller_uid, caller_uid_if_any, effective_uid, signal_caller
from noosd.runtime.calls import Call, current_call
from noosd.runtime.errors import StartupError
from noosd.runtime.gate import waiting
from noosd.runtime.host import HostOptions, ServiceHost
from noosd.runtime.interface import NoosInterface
from noosd.runtime.method import noos_method
from noosd.runtime.service import Service

__all__ = [
    "Call",
    "HostOptions",
    "NoosInterface",
    "Service",
    "ServiceHost",
    "StartupError",
    "caller_uid",
    "caller_uid_if_any",
    "current_call",
    "effective_uid",
    "noos_method",
    "signal_caller",
    "waiting",
]
