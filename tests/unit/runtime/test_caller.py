"""Who is calling, as the bus daemon knows it."""

from __future__ import annotations

import asyncio
import os

import pytest

from noos.bus import Connection
from noos.protocol import errors
from noosd.runtime import ServiceHost, current_call
from tests.fixtures.probe import PROBE_NAME, PROBE_PATH


async def call_uid(connection: Connection, member: str, *args: int) -> int:
    signature = "i" * len(args)
    reply = await connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, member, signature, args)
    return int(reply[0])


async def test_the_caller_uid_comes_from_the_bus(
    probe: ServiceHost, connection: Connection
) -> None:
    assert await call_uid(connection, "WhoAmI") == os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0, reason="the tests run as root only here")
async def test_root_acts_for_another_user_only_when_it_says_so(
    probe: ServiceHost, connection: Connection
) -> None:
    assert await call_uid(connection, "ActFor", -1) == 0
    assert await call_uid(connection, "ActFor", 1000) == 1000


async def test_a_departed_caller_is_forgotten(bus_address: str, probe: ServiceHost) -> None:
    async with await Connection.open(bus_address) as caller:
        await call_uid(caller, "WhoAmI")
        unique_name = caller.bus.unique_name
        assert unique_name is not None
        assert unique_name in probe.bus.callers

    for _ in range(100):
        if unique_name not in probe.bus.callers:
            break
        await asyncio.sleep(0.02)
    assert unique_name not in probe.bus.callers


def test_there_is_no_current_call_outside_a_method_call() -> None:
    with pytest.raises(RuntimeError, match="not serving"):
        current_call()


async def test_a_service_runs_its_hooks_and_owns_its_name(
    bus_address: str, probe: ServiceHost, connection: Connection
) -> None:
    service = probe.service
    assert getattr(service, "started", False)
    owner = await connection.call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "GetNameOwner",
        "s",
        [PROBE_NAME],
    )
    assert owner == [probe.bus.unique_name]
    await probe.stop()
    with pytest.raises(errors.Unavailable):
        await call_uid(connection, "WhoAmI")
