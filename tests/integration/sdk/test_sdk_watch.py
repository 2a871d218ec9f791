"""The SDK's watches on a real bus: what they yield, and the match they leave behind (none)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pytest
from dbus_fast import Message, PropertyAccess
from dbus_fast.annotations import DBusSignature, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_property

from noos import Index, IndexProgress, NoosError, ServiceChange, Unavailable, watch_services
from noos.bus import Connection
from noos.protocol import index as index_protocol
from noos.watch import (
    DBUS_NAME,
    DBUS_PATH,
    PropertiesChanged,
    Watch,
    watch_properties,
    watch_signal,
)
from tests.fixtures import forge_signals_as
from tests.fixtures.index import running_index
from tests.fixtures.private_bus import PrivateBus

WATCHED = "org.noos.test.Watched1"
COUNTER_PATH = "/org/noos/test/Counter"
COUNTER_INTERFACE = "org.noos.test.Counter1"
WITHIN_S = 10.0

T = TypeVar("T")


class CounterInterface(ServiceInterface):
    """A service of the test's, not noos's: one property that it announces."""

    def __init__(self) -> None:
        super().__init__(COUNTER_INTERFACE)
        self.count = 0

    @dbus_property(access=PropertyAccess.READ)
    def Count(self) -> DBusUInt32:
        return self.count

    @dbus_property(access=PropertyAccess.READ)
    def Names(self) -> Annotated[list[str], DBusSignature("as")]:
        return ["a"]

    def bump(self) -> None:
        self.count += 1
        self.emit_properties_changed({"Count": self.count}, ["Names"])


async def next_of(watch: AsyncIterator[T]) -> T:
    return await asyncio.wait_for(anext(watch), WITHIN_S)


async def assert_matches_removed(connection: Connection, watch: Watch[Any]) -> None:
    """Each of `watch`'s rules was removed from the bus: removing it again fails."""
    for rule in watch.rules:
        with pytest.raises(NoosError, match=r"match rule wasn.t found"):
            await connection.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "RemoveMatch", "s", (rule,))


async def test_a_service_appearing_and_vanishing(connection: Connection, bus_address: str) -> None:
    async with watch_services(connection, [WATCHED]) as changes:
        service = await Connection.open(bus_address)
        await service.bus.request_name(WATCHED)
        came = await next_of(changes)
        assert came == ServiceChange(WATCHED, "", service.bus.unique_name or "")
        assert came.appeared and not came.vanished
        await service.close()
        left = await next_of(changes)
        assert left.bus_name == WATCHED and left.vanished
    await assert_matches_removed(connection, changes)


async def test_property_changes_come_decoded_and_typed(
    connection: Connection, bus_address: str
) -> None:
    service = await Connection.open(bus_address)
    counter = CounterInterface()
    service.bus.export(COUNTER_PATH, counter)
    await service.bus.request_name(WATCHED)
    try:
        watch = watch_properties(connection, WATCHED, COUNTER_PATH, COUNTER_INTERFACE)
        async with watch.map(lambda change: change.changed["Count"]) as counts:
            counter.bump()
            counter.bump()
            assert [await next_of(counts), await next_of(counts)] == [1, 2]
        await assert_matches_removed(connection, counts)
        # A bare `async for` subscribes on its first step, and aclose unsubscribes.
        plain = watch_properties(connection, WATCHED, COUNTER_PATH, COUNTER_INTERFACE)
        first = asyncio.create_task(anext(plain))
        # Changes made before its match is on the bus go unheard: bump until one is.
        counter.bump()
        while not (await asyncio.wait({first}, timeout=0.1))[0]:
            counter.bump()
        change = first.result()
        assert isinstance(change, PropertiesChanged)
        assert (change.interface, change.invalidated) == (COUNTER_INTERFACE, ("Names",))
        assert 3 <= change.changed["Count"] <= counter.count
        await plain.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(plain)
        await assert_matches_removed(connection, plain)
    finally:
        await service.close()


async def test_a_watch_on_a_lost_connection_says_so(bus_address: str) -> None:
    connection = await Connection.open(bus_address)
    async with watch_services(connection, [WATCHED]) as changes:
        await connection.close()
        with pytest.raises(Unavailable, match="lost the connection"):
            await next_of(changes)


@pytest.fixture
def own_bus() -> Iterator[str]:
    bus = PrivateBus()
    yield bus.address
    bus.stop()


async def test_index_progress_comes_as_files_are_indexed(own_bus: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with running_index(own_bus, tmp_path / "state", home):
        async with await Index.connect(own_bus) as index:
            async with index.watch_progress() as progress:
                (home / "note.txt").write_text("the heron nests by the weir\n")
                seen = await next_of(progress)
                assert isinstance(seen, IndexProgress)
                while seen.files_done < 1:
                    seen = await next_of(progress)
            await assert_matches_removed(index.connection, progress)


NOBODY = 65534


def forge_signals_as_nobody(bus_address: str, destination: str) -> None:
    """Another user sends `destination` a forged PropertiesChanged and Progress, unicast."""
    sent = subprocess.run(
        [
            sys.executable,
            forge_signals_as.__file__,
            str(NOBODY),
            bus_address,
            destination,
            WATCHED,
            COUNTER_PATH,
            COUNTER_INTERFACE,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert sent.stdout.split() == ["sent"], sent.stderr


def progress_signal(path: str, files_done: int, queued: int) -> Message:
    return Message.new_signal(
        path,
        index_protocol.INTERFACE,
        "Progress",
        index_protocol.PROGRESS_SIGNATURE,
        [files_done, queued],
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_signals_forged_by_another_user_are_not_believed(
    connection: Connection, bus_address: str
) -> None:
    service = await Connection.open(bus_address)
    counter = CounterInterface()
    service.bus.export(COUNTER_PATH, counter)
    await service.bus.request_name(WATCHED)
    restarted: Connection | None = None
    try:
        properties = watch_properties(connection, WATCHED, COUNTER_PATH, COUNTER_INTERFACE)
        progress = watch_signal(
            connection,
            WATCHED,
            COUNTER_PATH,
            index_protocol.INTERFACE,
            "Progress",
            index_protocol.PROGRESS_SIGNATURE,
            index_protocol.progress_of,
        )
        async with properties.map(lambda change: change.changed["Count"]) as counts, progress:
            # A unicast signal is delivered whatever the match rules say.
            await asyncio.to_thread(
                forge_signals_as_nobody, bus_address, connection.bus.unique_name or ""
            )
            counter.bump()
            await service.bus.send(progress_signal(COUNTER_PATH, 1, 0))
            assert await next_of(counts) == 1
            assert await next_of(progress) == IndexProgress(1, 0)
            # A restarted service is followed; the one that left the name is not believed.
            await service.bus.release_name(WATCHED)
            restarted = await Connection.open(bus_address)
            await restarted.bus.request_name(WATCHED)
            await asyncio.sleep(0.2)  # the NameOwnerChanged reaches the watch
            counter.bump()
            await service.bus.send(progress_signal(COUNTER_PATH, 2, 0))
            await restarted.bus.send(progress_signal(COUNTER_PATH, 3, 0))
            assert await next_of(progress) == IndexProgress(3, 0)
            restarted_counter = CounterInterface()
            restarted_counter.count = 40
            restarted.bus.export(COUNTER_PATH, restarted_counter)
            restarted_counter.bump()
            assert await next_of(counts) == 41
    finally:
        await service.close()
        if restarted is not None:
            await restarted.close()
