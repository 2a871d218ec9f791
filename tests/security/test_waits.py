"""Attack: a user who waits on many calls at once keeps no work slot with them.

A job's Wait holds nothing but a future; counted as work in flight, a user's
waits (a batch client waiting on each of its jobs, or a hostile one) used up
that user's whole share of the service's bound, and its own ordinary calls
(Info, Submit, Cancel) were then refused with Busy until the job ended. Waits
have a budget of their own (`noosd.runtime.gate`), shared out per caller too.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from noosd.runtime.gate import DEFAULT_MAX_IN_FLIGHT
from tests.fixtures import waits_as
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.scheduler import running_scheduler

NOBODY = 65534
# Together more Waits than the uid's whole share of the work bound.
CONNECTIONS = 4
WAITS_EACH = DEFAULT_MAX_IN_FLIGHT // 4


@pytest.fixture
def scheduler(bus_address: str, tmp_path: Path) -> Iterator[NoosdProcess]:
    with running_scheduler(bus_address, tmp_path, cpu_threads="1") as process:
        yield process


async def test_a_user_waiting_on_many_calls_can_still_make_ordinary_ones(
    scheduler: NoosdProcess, bus_address: str
) -> None:
    attacker = await asyncio.create_subprocess_exec(
        sys.executable,
        waits_as.__file__,
        str(NOBODY),
        bus_address,
        str(CONNECTIONS),
        str(WAITS_EACH),
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(240):
        output, _ = await attacker.communicate()
    assert attacker.returncode == 0
    results = json.loads(output)

    assert results == {
        "info": "ok",
        "submit": "ok",
        "cancel": "ok",
        "waits_busy": 0,
        "waits_ended": CONNECTIONS * WAITS_EACH,
    }
