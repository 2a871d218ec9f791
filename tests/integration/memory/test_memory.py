"""org.noos.Memory1 on a private dbus-daemon, with the real model, chromadb and SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from dbus_fast import Message, MessageType, Variant

from noos import InvalidArgument, Memory, MemoryFilter, MemoryStats, NotFound, RecallHit
from noos.bus import Connection
from noos.protocol.errors import NoosError
from noos.watch import DBUS_NAME, DBUS_PATH
from tests.fixtures import memory_as, memory_quota_as, memory_stats_as, memory_words_as
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus

NOBODY = 65534


@pytest.fixture(scope="session")
def shipped_models() -> Path:
    return shipped_models_tree()


@pytest.fixture(scope="module")
def memory_service(
    bus_address: str, tmp_path_factory: pytest.TempPathFactory, shipped_models: Path
) -> Iterator[NoosdProcess]:
    state = tmp_path_factory.mktemp("memory-state")
    process = start_memory(bus_address, state, shipped_models)
    yield process
    assert process.terminate() == 0, process.stderr


@pytest_asyncio.fixture
async def memory(memory_service: NoosdProcess, connection: Connection) -> AsyncIterator[Memory]:
    yield Memory(connection)


async def test_remember_then_recall_finds_it_first(memory: Memory) -> None:
    backup = await memory.remember(
        "the backup job runs rsync to the NAS every night at 2am",
        kind="note",
        metadata={"project": "homelab"},
    )
    await memory.remember("I like my coffee black", kind="conversation")
    await memory.remember(
        "git push failed: remote rejected, fixed with git pull --rebase", kind="command"
    )
    hits = await memory.recall("when do the backups run?", limit=3)
    assert hits[0].memory.id == backup
    assert hits[0].memory.metadata == {"project": "homelab"}
    assert hits[0].score > hits[-1].score
    record = await memory.get(backup)
    assert record.text.startswith("the backup job")
    assert record.details["access_count"] >= 1  # recalled, so refreshed
    only_commands = await memory.recall(
        "backups", limit=5, filters=MemoryFilter(kinds=("command",))
    )
    assert [hit.memory.kind for hit in only_commands] == ["command"]


async def test_the_remembered_signal_reaches_the_caller(
    memory_service: NoosdProcess, bus_address: str
) -> None:
    async with await Connection.open(bus_address) as connection:
        signals: list[Message] = []
        connection.bus.add_message_handler(
            lambda message: (
                signals.append(message)
                if message.message_type is MessageType.SIGNAL and message.member == "Remembered"
                else None
            )
        )
        memory_id = await Memory(connection).remember("a signal test", kind="note")
        for _ in range(50):
            if signals:
                break
            await asyncio.sleep(0.05)
        assert [message.body for message in signals] == [[memory_id, "note"]]


async def next_stats(changes: AsyncIterator[MemoryStats], total: int) -> MemoryStats:
    """The first counts from `changes` that add up to `total` memories."""
    while True:
        stats = await asyncio.wait_for(anext(changes), 30)
        if stats.hot + stats.warm + stats.cold == total:
            return stats


async def test_the_counts_are_live_for_their_watcher(memory: Memory) -> None:
    async with memory.watch_stats() as changes:
        now = await asyncio.wait_for(anext(changes), 30)
        assert now == memory_stats_of_call(await memory.stats())
        total = now.hot + now.warm + now.cold
        memory_id = await memory.remember("a live count", kind="note")
        assert (await next_stats(changes, total + 1)).bytes_used > 0
        await memory.forget([memory_id])
        await next_stats(changes, total)
    # Closed: the service was told (UnwatchStats), the match is gone.
    with pytest.raises(NoosError):
        await memory.connection.call(
            DBUS_NAME, DBUS_PATH, DBUS_NAME, "RemoveMatch", "s", (changes.rules[0],)
        )


async def test_counts_from_anyone_but_the_service_are_not_believed(
    memory: Memory, bus_address: str
) -> None:
    async with memory.watch_stats() as changes:
        now = await asyncio.wait_for(anext(changes), 30)
        total = now.hot + now.warm + now.cold
        async with await Connection.open(bus_address) as forger:
            forged = {name: Variant("u", 999) for name in ("hot_count", "warm_count")}
            forger.bus.send(
                Message(
                    message_type=MessageType.SIGNAL,
                    destination=memory.connection.bus.unique_name,
                    path=Memory.object_path,
                    interface=Memory.interface,
                    member="StatsChanged",
                    signature="a{sv}",
                    body=[forged],
                )
            )
            # A round trip: the bus has passed the forgery on before it answers.
            await forger.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetId")
        memory_id = await memory.remember("counted after a forgery", kind="note")
        real = await asyncio.wait_for(anext(changes), 30)
        assert real.hot + real.warm + real.cold == total + 1
        await memory.forget([memory_id])


def memory_stats_of_call(stats: dict[str, int]) -> MemoryStats:
    return MemoryStats(
        stats["hot_count"], stats["warm_count"], stats["cold_count"], stats["bytes_used"]
    )


async def test_another_user_watching_the_counts_never_hears_mine(
    memory: Memory, bus_address: str
) -> None:
    """The attack: NOBODY matches every StatsChanged and watches its own counts
    while root's change. A broadcast StatsChanged would reach it with root's."""
    async with memory.watch_stats() as mine:
        before = await asyncio.wait_for(anext(mine), 30)
        total = before.hot + before.warm + before.cold
        listener = await asyncio.create_subprocess_exec(
            sys.executable,
            memory_stats_as.__file__,
            str(NOBODY),
            bus_address,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert listener.stdin is not None and listener.stdout is not None
        own = json.loads(await asyncio.wait_for(listener.stdout.readline(), 120))["own"]
        ids = [await memory.remember(f"root's note {n} for the count") for n in range(2)]
        # Root's own watcher heard each change: the signals were sent.
        after = await next_stats(mine, total + 2)
        await memory.forget(ids)
        await next_stats(mine, total)
        listener.stdin.close()
        stdout, _ = await asyncio.wait_for(listener.communicate(), 60)
    assert listener.returncode == 0
    report = json.loads(stdout)
    assert report["watches_root"] == "org.noos.Error.PermissionDenied"
    heard = report["heard"]
    assert own["hot"] + own["warm"] + own["cold"] != total + 2  # root's counts differ
    # NOBODY's counts did not change, so it heard nothing at all: not root's
    # counts, and no count of anyone's it did not ask for.
    assert heard == [], f"uid {NOBODY} heard {heard}; root's counts went to {after}"


async def test_pin_forget_and_stats(memory: Memory) -> None:
    memory_id = await memory.remember("the wifi password is in the drawer", kind="note")
    await memory.pin(memory_id)
    assert (await memory.get(memory_id)).details["pinned"] is True
    await memory.unpin(memory_id)
    assert (await memory.get(memory_id)).details["pinned"] is False
    before = await memory.stats()
    assert sum(before[f"{tier}_count"] for tier in ("hot", "warm", "cold")) >= 1
    assert before["bytes_used"] > 0
    # The properties are the caller's own view too.
    for tier in ("hot", "warm", "cold"):
        assert (
            await memory.connection.get_property(
                Memory.bus_name, Memory.object_path, Memory.interface, f"{tier.title()}Count"
            )
            == before[f"{tier}_count"]
        )
    assert await memory.forget([memory_id]) == 1
    with pytest.raises(NotFound):
        await memory.get(memory_id)
    marker = await memory.remember("throwaway", kind="note", metadata={"batch": "x1"})
    assert await memory.forget_where(MemoryFilter(metadata={"batch": "x1"})) == 1
    with pytest.raises(NotFound):
        await memory.get(marker)


async def test_two_users_never_see_each_other(memory: Memory, bus_address: str) -> None:
    root_memory = await memory.remember("root's own note about the vault", kind="note")
    other_user = await asyncio.create_subprocess_exec(
        sys.executable,
        memory_as.__file__,
        str(NOBODY),
        bus_address,
        root_memory,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=120)
    assert other_user.returncode == 0
    nobody = json.loads(stdout)
    assert nobody["recalled"] == [nobody["secret"]]  # only their own
    assert nobody["stats"]["hot_count"] + nobody["stats"]["warm_count"] == 1
    assert nobody["sees_root"] == "NotFound"
    assert nobody["acts_for_root"] == "PermissionDenied"
    # Root, acting normally, does not see nobody's secret either...
    mine = [hit.memory.id for hit in await memory.recall("vault code secret", limit=50)]
    assert nobody["secret"] not in mine
    with pytest.raises(NotFound):
        await memory.get(nobody["secret"])
    with pytest.raises(NotFound):
        await memory.forget([nobody["secret"]])
    # ...only through the explicit, logged for_uid.
    assert (await memory.get(nobody["secret"], for_uid=NOBODY)).text.endswith("4711")


# Notes with numbers: MiniLM ranks the locker's number third for "what is
# 4471?" (the office's door code and the parking permit are nearer).
NUMBERED_NOTES = (
    "the locker at the gym is number 4471",
    "the gym membership renews in March for 320 euros",
    "the bike lock code is 9182",
    "the parking permit number is 55-2210",
    "the gym opens at 6am on weekdays",
    "the train to work leaves at 7:42 from platform 3",
    "the office door code is 2280",
)


async def remember_numbered_notes(memory: Memory) -> list[str]:
    return [await memory.remember(text, kind="note") for text in NUMBERED_NOTES]


async def test_a_rare_word_finds_what_the_embedding_alone_misses(
    memory: Memory, tmp_path: Path, shipped_models: Path
) -> None:
    locker = (await remember_numbered_notes(memory))[0]

    hybrid = await memory.recall("what is 4471?", limit=3)

    assert hybrid[0].memory.id == locker
    # The same notes in a store that ranks by the embedding alone.
    bus = PrivateBus()
    process = start_memory(bus.address, tmp_path, shipped_models, fusion="none")
    try:
        async with await Memory.connect(bus.address) as alone:
            cosine_locker = (await remember_numbered_notes(alone))[0]
            cosine = await alone.recall("what is 4471?", limit=3)
        assert cosine[0].memory.id != cosine_locker
    finally:
        assert process.terminate() == 0, process.stderr
        bus.stop()


async def test_recall_brings_a_hits_neighbours_marked_as_such(memory: Memory) -> None:
    asked = await memory.remember(
        "Caroline: when is your ceramics exhibition at the town library?", kind="conversation"
    )
    answer = await memory.remember("Melanie: the Saturday after next", kind="conversation")

    plain = await memory.recall("ceramics exhibition library", limit=1)
    hits = await memory.recall("ceramics exhibition library", limit=1, neighbours=True)

    assert [hit.memory.id for hit in plain] == [asked]
    # The memory remembered before `asked` (by another test, just now) comes too.
    assert hits[0].memory.id == asked
    assert "neighbour_of" not in hits[0].memory.details
    neighbours = {hit.memory.id: hit.memory.details["neighbour_of"] for hit in hits[1:]}
    assert neighbours[answer] == asked
    assert set(neighbours.values()) == {asked}


async def test_another_users_words_never_change_my_ranking(
    memory: Memory, bus_address: str
) -> None:
    """The attack: nobody floods their memories with the word of root's query
    that makes root's best hit best ("Hvalsey"), hoping to make it common, and
    so light, in root's ranking (as one FTS index of every user's memories
    would: a word's BM25 weight is its rarity). Each user's words are in their
    own database: root's hits and their relevance stay exactly the same."""
    church = await memory.remember("we visited the ruined church at Hvalsey in Greenland")
    await memory.remember("the cathedral in Trondheim had a choir rehearsing")
    await memory.remember("a church bell rang in the old fjord village")

    def ranking(hits: list[RecallHit]) -> list[tuple[str, float]]:
        return [(hit.memory.id, hit.memory.details["relevance"]) for hit in hits]

    before = await memory.recall("Hvalsey church", limit=3)
    other_user = await asyncio.create_subprocess_exec(
        sys.executable,
        memory_words_as.__file__,
        str(NOBODY),
        bus_address,
        "Hvalsey",
        "60",
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=300)
    assert other_user.returncode == 0
    nobodys = json.loads(stdout)
    after = await memory.recall("Hvalsey church", limit=3)

    assert before[0].memory.id == church
    assert ranking(after) == ranking(before)
    assert not {hit.memory.id for hit in after} & set(nobodys)
    assert church not in nobodys


async def test_a_user_at_their_quota_is_refused_and_another_is_not(
    tmp_path: Path, shipped_models: Path
) -> None:
    bus = PrivateBus()
    process = start_memory(bus.address, tmp_path, shipped_models, max_memories_per_user="2")
    try:
        other_user = await asyncio.create_subprocess_exec(
            sys.executable,
            memory_quota_as.__file__,
            str(NOBODY),
            bus.address,
            "3",
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=120)
        assert other_user.returncode == 0
        first, second, third = json.loads(stdout)
        assert (first, second) == ("stored", "stored")
        assert third[0] == "QuotaExceeded"
        assert "over the 2 one user may keep; forget some" in third[1]
        # Nobody's full share takes nothing from root's.
        async with await Memory.connect(bus.address) as memory:
            for topic in ("the garden", "the boat"):
                await memory.remember(f"root's note about {topic}")
            assert (await memory.stats())["hot_count"] == 2
    finally:
        assert process.terminate() == 0, process.stderr
        bus.stop()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.remember(""), InvalidArgument),
        (lambda m: m.remember("   "), InvalidArgument),
        (lambda m: m.remember("x" * 1_000_000), InvalidArgument),
        (lambda m: m.remember("text", kind="telepathy"), InvalidArgument),
        (lambda m: m.remember("text", importance=7.0), InvalidArgument),
        (lambda m: m.recall(""), InvalidArgument),
        (lambda m: m.recall("what is it and where was it?"), InvalidArgument),  # function words
        (lambda m: m.recall("?!"), InvalidArgument),
        (lambda m: m.recall("x" * 1_000_000), InvalidArgument),
        (lambda m: m.recall("query", limit=0), InvalidArgument),
        (lambda m: m.recall("query", limit=10**9), InvalidArgument),
        (
            lambda m: m.recall("query", filters=MemoryFilter(since=20.0, until=10.0)),
            InvalidArgument,
        ),
        (lambda m: m.recall("query", filters=MemoryFilter(kinds=("telepathy",))), InvalidArgument),
        (lambda m: m.get("no-such-id"), NotFound),
        (lambda m: m.forget(["no-such-id"]), NotFound),
        (lambda m: m.pin("no-such-id"), NotFound),
    ],
)
async def test_bad_input_is_refused_and_the_service_stays_up(
    memory: Memory, call: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await call(memory)  # type: ignore[operator]
    assert await memory.remember("still here", kind="note")


async def test_bad_metadata_and_options_are_invalid_arguments(connection: Connection) -> None:
    path = "/org/noos/Memory1"
    for metadata, options in (
        ({"tags": Variant("as", ["a", "b"])}, {}),
        ({}, {"importance": Variant("s", "high")}),
        ({}, {"no_such_option": Variant("b", True)}),
    ):
        with pytest.raises(InvalidArgument):
            await connection.call(
                "org.noos.Memory1",
                path,
                "org.noos.Memory1",
                "Remember",
                "ssa{sv}a{sv}",
                ["text", "note", metadata, options],
            )
    for filters in ({"neighbours": Variant("s", "yes")}, {"neighbour": Variant("b", True)}):
        with pytest.raises(InvalidArgument):
            await connection.call(
                "org.noos.Memory1", path, "org.noos.Memory1", "Recall", "sua{sv}", ["x", 5, filters]
            )


def test_nothing_acknowledged_is_lost_to_kill_9(tmp_path: Path, shipped_models: Path) -> None:
    # A bus of its own: the module's service owns org.noos.Memory1 on the shared one.
    bus = PrivateBus()
    bus_address = bus.address
    service = start_memory(bus_address, tmp_path, shipped_models)

    async def remember_many() -> list[str]:
        async with await Memory.connect(bus_address) as memory:
            return [
                await memory.remember(f"durable fact number {n}", kind="fact") for n in range(20)
            ]

    ids = asyncio.run(remember_many())
    os.kill(service.process.pid, signal.SIGKILL)  # the moment the last reply is in
    assert service.finish() == -signal.SIGKILL

    restarted = start_memory(bus_address, tmp_path, shipped_models)
    try:

        async def read_back() -> tuple[list[str], str]:
            async with await Memory.connect(bus_address) as memory:
                texts = [(await memory.get(memory_id)).text for memory_id in ids]
                top = (await memory.recall("durable fact number 19", limit=1))[0].memory.id
                return texts, top

        texts, top = asyncio.run(read_back())
        assert texts == [f"durable fact number {n}" for n in range(20)]
        assert top == ids[19]
    finally:
        assert restarted.terminate() == 0, restarted.stderr
        bus.stop()
