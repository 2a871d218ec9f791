"""What the noos runtime costs on top of plain dbus-fast.

Both sides run here, now, on the same private dbus-daemon, so the figures are
ratios against a baseline from the same run, never absolute targets:

- baseline: a bare dbus-fast `ServiceInterface` answering Ping, called with a
  bare dbus-fast client;
- noos: org.noos.System1's Ping through `ServiceHost` (caller context, error
  mapping, the in-flight gate), called through the noos SDK (bounded in-flight
  calls, error translation).

Sequential round trips give the latency ratio; 1,000 concurrent calls give the
throughput ratio (the SDK bounds them to 128 in flight).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from dbus_fast import Message
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusStr
from dbus_fast.service import ServiceInterface, dbus_method

from noos import System
from noosd.runtime import HostOptions, ServiceHost
from noosd.system.service import SystemService
from tests.fixtures.private_bus import PrivateBus

SEQUENTIAL = 2000
CONCURRENT = 1000
IN_FLIGHT = 128


class BarePing(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.noos.Bench1")

    @dbus_method()
    def Ping(self) -> DBusStr:
        return "pong"


async def latencies(call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(200):  # warm up
        await call()
    samples = []
    for _ in range(SEQUENTIAL):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def throughput(call: Callable[[], Awaitable[object]], bound: asyncio.Semaphore) -> float:
    async def one() -> None:
        async with bound:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(CONCURRENT)))
    return CONCURRENT / (time.perf_counter() - start)


async def measure() -> None:
    bus = PrivateBus()
    try:
        server = await MessageBus(bus_address=bus.address).connect()
        server.export("/org/noos/Bench1", BarePing())
        await server.request_name("org.noos.Bench1")
        client = await MessageBus(bus_address=bus.address).connect()

        async def bare_call() -> object:
            # A new message each time: dbus-fast stamps the serial on it.
            return await client.call(
                Message(
                    destination="org.noos.Bench1",
                    path="/org/noos/Bench1",
                    interface="org.noos.Bench1",
                    member="Ping",
                )
            )

        host = ServiceHost(SystemService.configured(), HostOptions(bus_address=bus.address))
        await host.start()
        system = await System.connect(bus.address)

        base_lat = await latencies(bare_call)
        noos_lat = await latencies(system.ping)
        bound = asyncio.Semaphore(IN_FLIGHT)  # the same bound for both sides
        base_tput = await throughput(bare_call, bound)
        noos_tput = await throughput(system.ping, bound)

        def p(samples: list[float], q: int) -> float:
            return statistics.quantiles(samples, n=100)[q - 1] * 1e6

        print(f"D-Bus Ping, {SEQUENTIAL} sequential round trips and {CONCURRENT} concurrent")
        print(f"{'':28}{'baseline':>12}{'noos':>12}{'noos/baseline':>15}")
        for label, q in (("latency p50 (us)", 50), ("latency p99 (us)", 99)):
            b, n = p(base_lat, q), p(noos_lat, q)
            print(f"{label:28}{b:12.0f}{n:12.0f}{n / b:15.2f}")
        print(
            f"{'throughput (calls/s)':28}{base_tput:12.0f}{noos_tput:12.0f}"
            f"{noos_tput / base_tput:15.2f}"
        )
        await system.close()
        await host.stop()
        client.disconnect()
        server.disconnect()
    finally:
        bus.stop()


def main() -> None:
    asyncio.run(measure())


if __name__ == "__main__":
    main()
