"""Use org.noos.Scheduler1 as another user.

    python job_as.py UID ADDRESS JOB_PATH

Tries to read and cancel another user's job and to load a model, submits a
job of its own, and prints `key=value` lines: what each attempt gave.
"""

from __future__ import annotations

import asyncio
import os
import sys

from dbus_fast import Variant

from noos.bus import Connection
from noos.protocol.errors import NoosError

NAME = "org.noos.Scheduler1"
PATH = "/org/noos/Scheduler1"
JOB = "org.noos.Scheduler1.Job"


async def attempt(call: object) -> str:
    try:
        await call  # type: ignore[misc]
    except NoosError as error:
        return type(error).__name__
    return "allowed"


async def act(address: str, job: str) -> dict[str, str]:
    async with await Connection.open(address) as bus:
        results = {
            "info": await attempt(bus.call(NAME, job, JOB, "Info")),
            "cancel": await attempt(bus.call(NAME, job, JOB, "Cancel")),
            "load": await attempt(bus.call(NAME, PATH, NAME, "Load", "s", ["smollm2"])),
        }
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
