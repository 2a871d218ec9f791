"""Use org.noos.Scheduler1 as another user.

    python job_as.py UID ADDRESS JOB_PATH

Tries to read and cancel another user's job, and a job that does not
exist, to tell them apart by the error, the introspection data or the
listings of the objects; to load a model; submits a job of its own; and
prints `key=value` lines: what each attempt gave (an error as
`Name:message`, its spaces as `_`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable

from dbus_fast import Variant
from dbus_fast.errors import DBusError

from noos.bus import Connection
from noos.protocol.errors import NoosError

NAME = "org.noos.Scheduler1"
PATH = "/org/noos/Scheduler1"
JOB = "org.noos.Scheduler1.Job"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PROPERTIES = "org.freedesktop.DBus.Properties"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PEER = "org.freedesktop.DBus.Peer"


async def attempt(call: Awaitable[object]) -> str:
    try:
        await call
    except NoosError as error:
        return type(error).__name__
    return "allowed"


async def answer(call: Awaitable[object]) -> str:
    """What the call gave, whole: its error's name and message, or its result."""
    try:
        result = await call
    except (NoosError, DBusError) as error:
        name = getattr(error, "dbus_name", None) or getattr(error, "type", "")
        return f"{name}:{error}".replace(" ", "_")
    return repr(result).replace(" ", "_")


def listed(jobs: str, result: object) -> str:
    return "yes" if jobs in repr(result) else "no"


async def act(address: str, job: str) -> dict[str, str]:
    # Another id: a job that does not exist.
    missing = job[:-1] + ("2" if job.endswith("1") else "1")
    jobs = job.rsplit("/", 1)[0]
    async with await Connection.open(address) as bus:
        results = {
            "info": await attempt(bus.call(NAME, job, JOB, "Info")),
            "cancel": await attempt(bus.call(NAME, job, JOB, "Cancel")),
            "load": await attempt(bus.call(NAME, PATH, NAME, "Load", "s", ["smollm2"])),
        }
        for name, path in (("job", job), ("missing", missing)):
            results[f"{name}_info"] = await answer(bus.call(NAME, path, JOB, "Info"))
            results[f"{name}_wait"] = await answer(bus.call(NAME, path, JOB, "Wait"))
            results[f"{name}_watch"] = await answer(bus.call(NAME, path, JOB, "Watch"))
            results[f"{name}_introspect"] = await answer(
                bus.call(NAME, path, INTROSPECTABLE, "Introspect")
            )
            results[f"{name}_properties"] = await answer(
                bus.call(NAME, path, PROPERTIES, "GetAll", "s", [JOB])
            )
            results[f"{name}_ping"] = await answer(bus.call(NAME, path, PEER, "Ping"))
            results[f"{name}_unknown"] = await answer(bus.call(NAME, path, JOB, "Nope"))
            results[f"{name}_badargs"] = await answer(bus.call(NAME, path, JOB, "Info", "s", ["x"]))
        (managed,) = await bus.call(NAME, "/", OBJECT_MANAGER, "GetManagedObjects")
        results["managed_lists_jobs"] = listed(jobs, managed)
        (node,) = await bus.call(NAME, PATH, INTROSPECTABLE, "Introspect")
        results["introspect_lists_jobs"] = "yes" if 'name="jobs"' in node else "no"
        request = {"prompt": Variant("s", "Hello"), "max_tokens": Variant("i", 2)}
        (own,) = await bus.call(NAME, PATH, NAME, "Submit", "a{sv}", [request])
        (info,) = await bus.call(NAME, own, JOB, "Wait")
        (jobs,) = await bus.call(NAME, PATH, NAME, "Jobs")
        results["own_job"] = info["state"].value
        results["sees_job"] = "yes" if job in jobs else "no"
        return results


def main() -> None:
    uid, address, job = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    for key, value in asyncio.run(act(address, job)).items():
        print(f"{key}={value}", flush=True)


if __name__ == "__main__":
    main()
