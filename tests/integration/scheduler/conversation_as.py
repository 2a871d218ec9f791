"""Submit a conversation to org.noos.Scheduler1 as another user.

    python conversation_as.py UID ADDRESS MESSAGES_JSON

Submits the chat messages (a JSON list of [role, content]) greedily for a
few tokens, waits for the job, and prints `key=value` lines: its state and
how many of its prompt's tokens came from a saved KV state (`cached_tokens`).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from dbus_fast import Variant

from noos.bus import Connection

NAME = "org.noos.Scheduler1"
PATH = "/org/noos/Scheduler1"
JOB = "org.noos.Scheduler1.Job"


async def act(address: str, messages: list[list[str]]) -> dict[str, object]:
    async with await Connection.open(address) as bus:
        request = {
            "messages": Variant("a(ss)", messages),
            "max_tokens": Variant("i", 2),
            "temperature": Variant("d", 0.0),
        }
        (job,) = await bus.call(NAME, PATH, NAME, "Submit", "a{sv}", [request])
        (info,) = await bus.call(NAME, job, JOB, "Wait")
        return {"state": info["state"].value, "cached_tokens": info["cached_tokens"].value}


def main() -> None:
    uid, address, messages = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    for key, value in asyncio.run(act(address, messages)).items():
        print(f"{key}={value}", flush=True)


if __name__ == "__main__":
    main()
