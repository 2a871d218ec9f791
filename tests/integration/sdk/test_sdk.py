"""The SDK against a real noosd: bounded calls in flight, blocking clients, clean failures."""

from __future__ import annotations

import asyncio
import os
from importlib.metadata import version

import pytest

from noos import SyncSystem, System, Unavailable
from noos.bus import Connection
from tests.fixtures.noosd_process import NoosdProcess

pytestmark = pytest.mark.usefixtures("noosd_system")


async def test_a_thousand_concurrent_calls_all_succeed_on_one_connection(
    connection: Connection,
) -> None:
    system = System(connection)

    answers = await asyncio.gather(*(system.ping() for _ in range(1000)))

    assert answers == ["pong"] * 1000
    assert connection.bus.connected
    assert await system.whoami() == os.geteuid()


def test_the_blocking_client_works_without_an_event_loop(bus_address: str) -> None:
    with SyncSystem(bus_address) as system:
        assert system.ping() == "pong"
        assert system.whoami() == os.geteuid()
        assert system.version() == version("noosd")
        assert [model.name for model in system.models()] == ["tiny-chat", "tiny-embedding"]


async def test_the_blocking_client_works_inside_an_event_loop(bus_address: str) -> None:
    with SyncSystem(bus_address) as system:
        assert system.ping() == "pong"


async def test_the_bus_address_may_come_from_the_environment(
    bus_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_BUS_ADDRESS", bus_address)
    async with await System.connect() as system:
        assert await system.ping() == "pong"


async def test_an_unreachable_bus_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="cannot connect to the bus at unix:path=/nonexistent"):
        await System.connect("unix:path=/nonexistent")


def test_the_blocking_client_reports_an_unreachable_bus() -> None:
    with pytest.raises(Unavailable, match="No such file or directory"):
        SyncSystem("unix:path=/nonexistent")


async def test_a_service_that_is_not_running_is_unavailable(
    bus_address: str, noosd_system: NoosdProcess
) -> None:
    noosd_system.terminate()
    async with await System.connect(bus_address) as system:
        with pytest.raises(Unavailable) as raised:
            await system.ping()
    assert raised.value.dbus_name == "org.freedesktop.DBus.Error.ServiceUnknown"
