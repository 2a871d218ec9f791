"""Submit requests to org.noos.Scheduler1 as another user, one after another.

    python conversation_as.py UID ADDRESS REQUESTS_JSON

REQUESTS_JSON is a list of requests, each {"messages": [[role, content], ...]}
or {"prompt": text}; each runs greedily for a couple of tokens. Prints
`N.key=value` lines for the N-th: its state, how many of its prompt's tokens
came from a saved KV state (`cached_tokens`), and its time to first token.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from dbus_fast import Variant

from noos.bus import Connection

NAME = "org.noos.Scheduler1"
PATH = "/org/noos/Scheduler1"
JOB = "org.noos.Scheduler1.Job"


async def act(address: str, requests: list[dict[str, Any]]) -> dict[str, object]:
    results: dict[str, object] = {}
    async with await Connection.open(address) as bus:
        for number, given in enumerate(requests):
            request = {"max_tokens": Variant("i", 2), "temperature": Variant("d", 0.0)}
            if "messages" in given:
                request["messages"] = Variant("a(ss)", given["messages"])
            else:
                request["prompt"] = Variant("s", given["prompt"])
            (job,) = await bus.call(NAME, PATH, NAME, "Submit", "a{sv}", [request])
            (info,) = await bus.call(NAME, job, JOB, "Wait")
            results[f"{number}.state"] = info["state"].value
            results[f"{number}.cached_tokens"] = info["cached_tokens"].value
            results[f"{number}.ttft"] = info["time_to_first_token_s"].value
    return results


def main() -> None:
    uid, address, requests = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    for key, value in asyncio.run(act(address, requests)).items():
        print(f"{key}={value}", flush=True)


if __name__ == "__main__":
    main()
