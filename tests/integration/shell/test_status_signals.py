"""The status follows the services' signals: a service that comes, a model that loads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.service import ServiceInterface, method

from noos import NoosError
from noos.bus import Connection
from noos.protocol import index as index_protocol
from noos.scheduler import STATE_CHECK_S
from noos_shell.services import ServiceDown, ServiceName, Services, StatusSnapshot
from tests.fixtures import forge_signals_as
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import start_scheduler, write_catalog

ANSWER_S = 90.0
NOBODY = 65534


@pytest.fixture
def own_bus() -> Iterator[str]:
    bus = PrivateBus()
    yield bus.address
    bus.stop()


class ProgressWatchers(ServiceInterface):
    """The part of org.noos.Index1 that a watch of its progress calls."""

    def __init__(self) -> None:
        super().__init__(index_protocol.INTERFACE)

    # No return annotation: dbus-fast reads "None" (a string, here) as no signature.
    @method()
    def WatchProgress(self):  # type: ignore[no-untyped-def]
        pass

    @method()
    def UnwatchProgress(self):  # type: ignore[no-untyped-def]
        pass


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


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_another_user_cannot_forge_the_status(own_bus: str) -> None:
    """A Progress sent straight to the shell's connection by another user
    (unicast: no match rule is needed for it to arrive) changes nothing."""
    index_name = index_protocol.BUS_NAME
    snapshots: list[StatusSnapshot] = []
    services = Services(snapshots.append, own_bus)
    await services.start()
    # The name has its owner, as on a real system bus (whose policy lets only
    # the service own it): the forger can only queue for it.
    owner = await Connection.open(own_bus)
    owner.bus.export(index_protocol.OBJECT_PATH, ProgressWatchers())
    await owner.bus.request_name(index_name)
    try:
        assert services._connection is not None
        shell = services._connection.bus.unique_name or ""
        forger = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                forge_signals_as.__file__,
                str(NOBODY),
                own_bus,
                shell,
                index_name,
                index_protocol.OBJECT_PATH,
                index_protocol.INTERFACE,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert forger.stdout.split() == ["sent"], forger.stderr
        # The real owner's Progress is believed, so the forged one had its chance.
        await owner.bus.send(
            Message(
                message_type=MessageType.SIGNAL,
                destination=shell,
                path=index_protocol.OBJECT_PATH,
                interface=index_protocol.INTERFACE,
                member="Progress",
                signature=index_protocol.PROGRESS_SIGNATURE,
                body=[1, 7],
            )
        )
        await until(lambda: services.status.files_queued == 7, 10)
        # Nothing the status showed came from the forger.
        assert {snapshot.files_queued for snapshot in snapshots} == {0, 7}
    finally:
        await services.stop()
        await owner.close()
