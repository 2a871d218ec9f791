"""The status follows the services' signals: a service that comes, a model that loads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from noos import NoosError
from noos.scheduler import STATE_CHECK_S
from noos_shell.services import ServiceDown, ServiceName, Services, StatusSnapshot
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import start_scheduler, write_catalog

ANSWER_S = 90.0


@pytest.fixture
def own_bus() -> Iterator[str]:
    bus = PrivateBus()
    yield bus.address
    bus.stop()


async def until(condition: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "not so in time"
        await asyncio.sleep(0.05)


async def test_a_scheduler_that_comes_then_loads_a_model(own_bus: str, tmp_path: Path) -> None:
    snapshots: list[StatusSnapshot] = []
    services = Services(snapshots.append, own_bus)
    await services.start()
    try:
        assert services.status.states[ServiceName.SCHEDULER].up is False
        write_catalog(tmp_path / "models.d")
        # No model loaded ahead of a job: the load below is the job's.
        process = await asyncio.to_thread(start_scheduler, own_bus, tmp_path, preload="0")
        try:
            # NameOwnerChanged, then the shell reads its status once.
            await until(lambda: services.status.states[ServiceName.SCHEDULER].up is True, 10)
            assert services.status.resident == ()
            await services.ask([("user", "Say hi.")], max_tokens=4)
            # PropertiesChanged said which model is resident; nobody asked.
            await until(lambda: services.status.resident == ("smollm2",), 10)
        finally:
            await asyncio.to_thread(process.terminate, 30)
        await until(lambda: services.status.states[ServiceName.SCHEDULER].up is False, 10)
        assert services.status.states[ServiceName.SCHEDULER].reason == "it left the bus"
    finally:
        await services.stop()


async def test_an_answer_whose_scheduler_dies_ends_with_the_reason(
    own_bus: str, tmp_path: Path
) -> None:
    # An answer has no time limit: what ends it when the scheduler is gone is
    # the SDK asking the job's state (every STATE_CHECK_S).
    services = Services(lambda _: None, own_bus)
    await services.start()
    write_catalog(tmp_path / "models.d")
    process = await asyncio.to_thread(start_scheduler, own_bus, tmp_path)
    try:
        pieces = services.stream([("user", "Write a long story about a lighthouse.")], 384)
        await anext(pieces)
        process.process.kill()
        started = time.monotonic()
        with pytest.raises((ServiceDown, NoosError)):
            async for _ in pieces:
                pass
        assert time.monotonic() - started < STATE_CHECK_S + 10
    finally:
        await asyncio.to_thread(process.finish, 30)
        await services.stop()
