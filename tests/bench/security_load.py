"""Eight users on the memory, index and scheduler services at once, some flooding.

    python -m tests.bench security_load                    # 600 s of load, as the issue asks
    python -m tests.bench.security_load --seconds 90 --heavy 1

The services run on a private bus as processes of their own
(`tests/fixtures/load.py`); each user is a process of its own uid
(`tests/fixtures/load_as.py`): the heavy ones keep far more calls in flight
than their share and send each again as soon as it ends, the light ones make
one call at a time with a pause (remember, recall, search, an interactive
question, now and then a batch job).

- Per call kind, light and heavy users apart: calls served, p50/p99, Busy.
- Per user: its Busy rate; a light user's must stay within 1% (PASS/FAIL).
- Scheduler throughput, before the load, on an idle machine: rounds of
  2 x SLOTS batch jobs submitted at once (a counting prompt, temperature 0,
  THROUGHPUT_TOKENS each): all their tokens over the time from the first
  Submit to the last end. Baseline: llama.cpp's own server
  (`llama_cpp.server`, which runs one request at a time) as SLOTS processes
  of one thread each, the same model, the same requests spread evenly over
  them: the same parallel slots and threads as the scheduler's. The sides
  alternate (noos, server, server, noos, ...).
- Interactive time to first token (Submit to first streamed piece, from the
  client): idle, before the load, against the light users' under the load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

from tests.bench.support.tables import percentile_ms, print_table, verdict
from tests.fixtures import load_as
from tests.fixtures.llama_server import LlamaServer
from tests.fixtures.load import UserResult, load_services, roles, run_users
from tests.fixtures.scheduler import smollm2

DEFAULT_SECONDS = 600.0
DEFAULT_HEAVY = 2
# Two slots of one thread each: the machine's two cores (see README.md).
DEFAULT_SLOTS = 2
LIGHT_BUSY_RATE = 0.01
TTFT_GOAL = 1.3
IDLE_TTFT_RUNS = 6
THROUGHPUT_ROUNDS = 2
THROUGHPUT_TOKENS = 128
# SmolLM2 counts on past THROUGHPUT_TOKENS at temperature 0: every job makes them all.
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8,"


async def scheduler_round(clients: load_as.Clients, jobs: int) -> float:
    """`jobs` counting jobs at once through the scheduler: tokens per second."""
    start = time.perf_counter()
    submitted = [
        await clients.scheduler.submit(
            COUNTING,
            raw=True,
            model=load_as.MODEL,
            priority="batch",
            max_tokens=THROUGHPUT_TOKENS,
            temperature=0.0,
        )
        for _ in range(jobs)
    ]
    infos = await asyncio.gather(*(job.wait() for job in submitted))
    return sum(info.tokens for info in infos) / (time.perf_counter() - start)


async def server_round(http: httpx.AsyncClient, servers: Sequence[LlamaServer], jobs: int) -> float:
    """The same jobs through llama.cpp's servers, spread evenly: tokens per second."""

    async def complete(server: LlamaServer) -> int:
        body: dict[str, Any] = {
            "model": server.model_name,
            "prompt": COUNTING,
            "max_tokens": THROUGHPUT_TOKENS,
            # The scheduler's sampling: greedy, nothing else.
            "temperature": 0.0,
            "repeat_penalty": 1.0,
            "min_p": 0.0,
        }
        response = await http.post(f"{server.base_url}/completions", json=body)
        response.raise_for_status()
        return int(response.json()["usage"]["completion_tokens"])

    start = time.perf_counter()
    tokens = await asyncio.gather(*(complete(servers[n % len(servers)]) for n in range(jobs)))
    return sum(tokens) / (time.perf_counter() - start)


class Figures:
    def __init__(self) -> None:
        self.noos_tps: list[float] = []
        self.server_tps: list[float] = []
        self.idle_ttft: list[float] = []
        self.users: list[UserResult] = []


async def measure(args: argparse.Namespace, servers: Sequence[LlamaServer]) -> Figures:
    figures = Figures()
    jobs = 2 * args.slots
    with load_services(args.slots) as address:
        clients = await load_as.connected(address)
        async with httpx.AsyncClient(timeout=None, trust_env=False) as http:
            # Warm-ups: the scheduler loads the model on its first job.
            await scheduler_round(clients, 1)
            await server_round(http, servers, len(servers))
            for n in range(THROUGHPUT_ROUNDS):
                print(f"  throughput round {n + 1}/{THROUGHPUT_ROUNDS}", flush=True)
                if n % 2 == 0:
                    figures.noos_tps.append(await scheduler_round(clients, jobs))
                    figures.server_tps.append(await server_round(http, servers, jobs))
                else:
                    figures.server_tps.append(await server_round(http, servers, jobs))
                    figures.noos_tps.append(await scheduler_round(clients, jobs))
        idle = load_as.User(0)
        for _ in range(IDLE_TTFT_RUNS):
            await idle.interactive(clients)
        figures.idle_ttft = idle.ttft
        print(f"  load: 8 users ({args.heavy} heavy) for {args.seconds:.0f} s", flush=True)
        figures.users = await run_users(address, roles(args.heavy), args.seconds)
        await clients.close()
    return figures


def ms(samples: list[float], q: int) -> str:
    return f"{percentile_ms(samples, q):.0f}" if len(samples) >= 2 else "-"


def print_calls(users: list[UserResult]) -> None:
    rows = []
    for role in ("light", "heavy"):
        kinds: dict[str, dict[str, Any]] = {}
        for user in users:
            if user.role != role:
                continue
            for name, kind in user.report["kinds"].items():
                merged = kinds.setdefault(name, {"seconds": [], "busy": 0, "failed": 0})
                merged["seconds"] += kind["seconds"]
                merged["busy"] += kind["busy"]
                merged["failed"] += sum(kind["failed"].values())
        for name, kind in sorted(kinds.items()):
            seconds = kind["seconds"]
            served = (len(seconds), ms(seconds, 50), ms(seconds, 99))
            rows.append((role, name, *served, kind["busy"], kind["failed"]))
    print_table(
        "Calls, by kind (served calls' latency; a heavy user's are its flood's)",
        ("users", "call", "served", "p50 ms", "p99 ms", "Busy", "other errors"),
        rows,
    )


def print_users(users: list[UserResult]) -> None:
    rows = []
    for user in users:
        goal = ""
        if user.role == "light":
            goal = "PASS" if user.busy_rate <= LIGHT_BUSY_RATE else "FAIL"
        failed = ", ".join(f"{n} {name}" for name, n in user.failed.items()) or "-"
        rows.append(
            (user.uid, user.role, user.calls, user.busy, f"{user.busy_rate:.2%}", goal, failed)
        )
    print_table(
        f"Busy rate per user (goal for light users: <= {LIGHT_BUSY_RATE:.0%})",
        ("uid", "role", "calls", "Busy", "Busy rate", "goal", "other errors"),
        rows,
    )


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(
        prog="security_load", description="eight users on the services, some flooding"
    )
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="of load")
    parser.add_argument("--heavy", type=int, default=DEFAULT_HEAVY, help="flooding users of 8")
    parser.add_argument("--slots", type=int, default=DEFAULT_SLOTS, help="parallel jobs")
    args = parser.parse_args(list(argv))
    servers = [LlamaServer(smollm2(), threads=1) for _ in range(args.slots)]
    try:
        for server in servers:
            server.start()
        figures = asyncio.run(measure(args, servers))
    finally:
        for server in servers:
            server.stop()
    users = figures.users
    print_calls(users)
    print_users(users)

    noos, server = statistics.median(figures.noos_tps), statistics.median(figures.server_tps)
    load_tps = sum(user.report["tokens"] for user in users) / args.seconds
    print_table(
        f"Scheduler throughput, idle machine: {THROUGHPUT_ROUNDS} rounds of "
        f"{2 * args.slots} jobs x {THROUGHPUT_TOKENS} tokens, SmolLM2 135M Q4_1",
        ("", "median tok/s", "range", "/baseline"),
        [
            (
                f"baseline: llama_cpp.server x {args.slots} (1 thread each)",
                f"{server:.1f}",
                f"{min(figures.server_tps):.1f}-{max(figures.server_tps):.1f}",
                "1.000",
            ),
            (
                f"noosd scheduler, {args.slots} slots x 1 thread",
                f"{noos:.1f}",
                f"{min(figures.noos_tps):.1f}-{max(figures.noos_tps):.1f}",
                f"{noos / server:.3f}",
            ),
        ],
    )
    print(f"batch tokens the users' jobs got under the load: {load_tps:.1f} tok/s")

    loaded = [t for user in users if user.role == "light" for t in user.report["ttft"]]
    idle = figures.idle_ttft
    ratio = statistics.median(loaded) / statistics.median(idle) if loaded else float("nan")
    print_table(
        "Interactive time to first token (Submit to first piece, client side)",
        ("", "runs", "p50 ms", "p99 ms", "/idle (p50)"),
        [
            ("idle, before the load", len(idle), ms(idle, 50), ms(idle, 99), "1.00"),
            (
                "light users, under the load",
                len(loaded),
                ms(loaded, 50),
                ms(loaded, 99),
                f"{ratio:.2f}",
            ),
        ],
    )
    print_table(
        "",
        ("goal", "measured", "verdict"),
        [
            (f"TTFT under load <= {TTFT_GOAL}x idle", f"{ratio:.2f}x", verdict(ratio <= TTFT_GOAL)),
            (
                f"every light user's Busy rate <= {LIGHT_BUSY_RATE:.0%}",
                f"{max(u.busy_rate for u in users if u.role == 'light'):.2%} at most",
                verdict(all(u.busy_rate <= LIGHT_BUSY_RATE for u in users if u.role == "light")),
            ),
        ],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
