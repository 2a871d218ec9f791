"""Attack: one user fills a service's calls in flight so that it answers Busy to everyone.

Long calls (a job's Wait, an IndexFile waiting for the writer lock, memory's
one worker) keep their slot; one user making enough of them must get Busy
themselves, and leave the others their share.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest_asyncio

from noos.bus import Connection
from noosd.runtime import HostOptions, ServiceHost
from noosd.runtime.gate import DEFAULT_MAX_IN_FLIGHT
from tests.fixtures import flood_as
from tests.fixtures.probe import PROBE_NAME, PROBE_PATH, ProbeService

NOBODY = 65534
# More calls than the whole bound, over several connections of one user.
FLOOD_CONNECTIONS = 4
FLOOD_CALLS_EACH = DEFAULT_MAX_IN_FLIGHT // 2
FLOOD_SECONDS = 3.0
# Root's own calls while the flood lasts: a few at once, as a shell makes them.
ROOT_CALLS = 8


@pytest_asyncio.fixture
async def probe_at_full_size(bus_address: str) -> AsyncIterator[ServiceHost]:
    """The probe with the services' own bound on calls in flight."""
    host = ServiceHost(ProbeService(), HostOptions(bus_address=bus_address, drain_timeout=10))
    await host.start()
    yield host
    await host.stop()


async def sleep(connection: Connection, seconds: float) -> bool:
    reply = await connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, "Sleep", "d", [seconds])
    return bool(reply[0])


async def test_a_user_who_floods_a_service_gets_busy_and_others_are_still_served(
    probe_at_full_size: ServiceHost, bus_address: str, connection: Connection
) -> None:
    flood = await asyncio.create_subprocess_exec(
        sys.executable,
        flood_as.__file__,
        str(NOBODY),
        bus_address,
        PROBE_NAME,
        PROBE_PATH,
        str(FLOOD_CONNECTIONS),
        str(FLOOD_CALLS_EACH),
        str(FLOOD_SECONDS),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert flood.stdout is not None
        async with asyncio.timeout(30):
            assert await flood.stdout.readline() == b"flooding\n"

        # Root, while nobody's calls are in flight: served, not Busy.
        served = await asyncio.gather(*(sleep(connection, 0.1) for _ in range(ROOT_CALLS)))

        assert served == [True] * ROOT_CALLS
        async with asyncio.timeout(30):
            output, _ = await flood.communicate()
    finally:
        if flood.returncode is None:
            flood.kill()
            await flood.wait()
    flooder_served, flooder_busy = map(int, output.split())
    assert flooder_busy > 0
    assert flooder_served <= DEFAULT_MAX_IN_FLIGHT // 2
    assert flooder_served + flooder_busy == FLOOD_CONNECTIONS * FLOOD_CALLS_EACH
