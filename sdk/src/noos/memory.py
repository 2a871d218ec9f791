"""The client of org.noos.Memory1: the caller's semantic memory.

async with await Memory.connect() as memory:
    memory_id = await memory.remember("the build needs libfoo-dev", kind="note")
    for hit in await memory.recall("what does the build need?", limit=5):
        print(hit.score, hit.memory.text)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dbus_fast import Message

from noos.client import Client
from noos.protocol import memory as protocol
from noos.protocol.memory import (
    MemoryFilter,
    MemoryRecord,
    MemoryStats,
    RecallHit,
    Scalar,
    for_uid_option,
    hit_of,
    memory_stats_of,
    metadata_variants,
    record_of,
    scalar_variant,
)
from noos.sync import SyncClient, blocking
from noos.watch import Watch, match_rule

__all__ = [
    "Memory",
    "MemoryFilter",
    "MemoryRecord",
    "MemoryStats",
    "RecallHit",
    "Scalar",
    "SyncMemory",
    "for_uid_option",
    "metadata_variants",
    "record_of",
    "scalar_variant",
]


class Memory(Client):
    """Async client of org.noos.Memory1."""

    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    interface = protocol.INTERFACE

    async def remember(
        self,
        text: str,
        kind: str = "note",
        metadata: Mapping[str, Scalar] | None = None,
        importance: float | None = None,
        supersedes: str | None = None,
        for_uid: int | None = None,
    ) -> str:
        """Remember `text`; the new memory's id."""
        options = protocol.REMEMBER_OPTIONS.encode(
            {"importance": importance, "supersedes": supersedes, "for_uid": for_uid}
        )
        reply = await self._call(
            "Remember", "ssa{sv}a{sv}", text, kind, metadata_variants(metadata or {}), options
        )
        return str(reply[0])

    async def recall(
        self, query: str, limit: int = 10, filters: MemoryFilter | None = None
    ) -> list[RecallHit]:
        """The memories that best match `query`, best first."""
        wanted = (filters or MemoryFilter()).to_dbus()
        (hits,) = await self._call("Recall", "sua{sv}", query, limit, wanted)
        return [hit_of(hit) for hit in hits]

    async def get(self, memory_id: str, for_uid: int | None = None) -> MemoryRecord:
        (fields,) = await self._call("Get", "sa{sv}", memory_id, for_uid_option(for_uid))
        return record_of(fields)

    async def forget(self, memory_ids: Iterable[str], for_uid: int | None = None) -> int:
        """Forget memories by id; how many were forgotten."""
        reply = await self._call("Forget", "asa{sv}", list(memory_ids), for_uid_option(for_uid))
        return int(reply[0])

    async def forget_where(self, filters: MemoryFilter) -> int:
        """Forget every memory that matches `filters`; how many were forgotten."""
        return int((await self._call("ForgetWhere", "a{sv}", filters.to_dbus()))[0])

    async def pin(self, memory_id: str, for_uid: int | None = None) -> None:
        await self._call("Pin", "sa{sv}", memory_id, for_uid_option(for_uid))

    async def unpin(self, memory_id: str, for_uid: int | None = None) -> None:
        await self._call("Unpin", "sa{sv}", memory_id, for_uid_option(for_uid))

    async def stats(self, for_uid: int | None = None) -> dict[str, int]:
        """Memories per tier (`hot_count`, `warm_count`, `cold_count`) and `bytes_used`."""
        (stats,) = await self._call("Stats", "a{sv}", for_uid_option(for_uid))
        return protocol.stats_of(stats)

    def watch_stats(self) -> Watch[MemoryStats]:
        """The caller's counts now, then each time they change.

        The service sends StatsChanged to the watching connection alone (a
        user's counts are private), from WatchStats until UnwatchStats, which
        closing the watch calls."""
        rule = match_rule(
            sender=self.bus_name,
            path=self.object_path,
            interface=self.interface,
            member="StatsChanged",
        )

        # A signal sent to us is delivered whatever our match rules say: the
        # watch believes only the owner of the service's name (`sender`).
        def decode(message: Message) -> MemoryStats | None:
            if (
                message.interface != self.interface
                or message.member != "StatsChanged"
                or message.path != self.object_path
                or message.signature != "a{sv}"
            ):
                return None
            return memory_stats_of(message.body[0])

        async def subscribe() -> list[MemoryStats]:
            (stats,) = await self._call("WatchStats", "a{sv}", {})
            return [memory_stats_of(stats)]

        async def unsubscribe() -> None:
            await self._call("UnwatchStats")

        return Watch(
            self.connection,
            [rule],
            decode,
            subscribe=subscribe,
            unsubscribe=unsubscribe,
            sender=self.bus_name,
        )


class SyncMemory(SyncClient[Memory]):
    """Blocking client of org.noos.Memory1."""

    client_type = Memory
    remember = blocking(Memory.remember)
    recall = blocking(Memory.recall)
    get = blocking(Memory.get)
    forget = blocking(Memory.forget)
    forget_where = blocking(Memory.forget_where)
    pin = blocking(Memory.pin)
    unpin = blocking(Memory.unpin)
    stats = blocking(Memory.stats)
