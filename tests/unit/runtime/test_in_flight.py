"""The bound on work in flight: past it calls fail fast with Busy; the service recovers."""

from __future__ import annotations

import asyncio

from noos.bus import Connection
from noos.protocol import errors
from noosd.runtime import ServiceHost
from tests.fixtures.probe import PROBE_MAX_IN_FLIGHT, PROBE_NAME, PROBE_PATH, ProbeService


async def sleep(connection: Connection, seconds: float) -> bool:
    reply = await connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, "Sleep", "d", [seconds])
    return bool(reply[0])


async def test_calls_past_the_bound_are_busy_then_the_service_recovers(
    probe: ServiceHost, connection: Connection
) -> None:
    calls = PROBE_MAX_IN_FLIGHT + 3
    results = await asyncio.gather(
        *(sleep(connection, 0.3) for _ in range(calls)), return_exceptions=True
    )

    busy = [result for result in results if isinstance(result, errors.Busy)]
    assert results.count(True) == PROBE_MAX_IN_FLIGHT
    assert len(busy) == calls - PROBE_MAX_IN_FLIGHT
    assert busy[0].retry_after > 0
    assert f"{PROBE_MAX_IN_FLIGHT} calls in flight" in busy[0].message
    assert probe.gate.in_flight == 0
    assert await sleep(connection, 0)


async def test_plain_methods_finish_before_the_next_call_so_never_fill_the_bound(
    probe: ServiceHost, connection: Connection
) -> None:
    echoes = await asyncio.gather(
        *(
            connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, "Echo", "s", [str(n)])
            for n in range(200)
        )
    )
    assert echoes == [[str(n)] for n in range(200)]


async def test_stopping_waits_for_the_calls_in_flight(
    probe: ServiceHost, connection: Connection
) -> None:
    service = probe.service
    assert isinstance(service, ProbeService)
    slow_call = asyncio.create_task(sleep(connection, 0.3))
    await service.probe.sleeping.wait()

    await probe.stop()

    assert service.probe.finished_sleeps == 1
    assert service.stopped
    assert await slow_call
