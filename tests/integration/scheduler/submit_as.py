"""Queue prompts in org.noos.Scheduler1 as another user.

    python submit_as.py UID ADDRESS COUNT BYTES

Submits COUNT prompts of BYTES bytes each, one call each, and prints
`submitN=...` lines: "queued", or the error's name and message. Then cancels
its jobs, so that none of them runs after it.
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


async def act(address: str, count: int, size: int) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    jobs = []
    async with await Connection.open(address) as bus:
        for number in range(count):
            request = {"prompt": Variant("s", "word " * (size // 5)), "max_tokens": Variant("i", 2)}
            try:
                (job,) = await bus.call(NAME, PATH, NAME, "Submit", "a{sv}", [request])
                jobs.append(job)
                outcomes[f"submit{number}"] = "queued"
            except NoosError as error:
                outcomes[f"submit{number}"] = f"{type(error).__name__}: {error}"
        for job in jobs:
            await bus.call(NAME, job, JOB, "Cancel")
    return outcomes


def main() -> None:
    uid, address = int(sys.argv[1]), sys.argv[2]
    count, size = int(sys.argv[3]), int(sys.argv[4])
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    for key, value in asyncio.run(act(address, count, size)).items():
        print(f"{key}={value}", flush=True)


if __name__ == "__main__":
    main()
