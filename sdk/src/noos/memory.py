"""The client of org.noos.Memory1: the caller's semantic memory.

async with await Memory.connect() as memory:
    memory_id = await memory.remember("the build needs libfoo-dev", kind="note")
    for hit in await memory.recall("what does the build need?", limit=5):
        print(hit.score, hit.memory.text)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping

from dbus_fast import Message, Variant

from noos.client import Client
from noos.protocol import memory as protocol
from noos.protocol.errors import InvalidArgument
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


# Recall answers at most the service's max_limit (1000 unless set lower) hits:
# the first batch asks that many, and halves while the service says too many.
RECALL_BATCH = 1000
# A window of creation times narrower than this is not split further.
NARROWEST_WINDOW_S = 1e-3
# Memories made by a clock a little ahead are still found.
CLOCK_SLACK_S = 86_400.0


def record_matches(record: MemoryRecord, pattern: re.Pattern[str]) -> bool:
    """Whether `pattern` is found in the memory's text or a text of its metadata."""
    texts = [record.text, *(value for value in record.metadata.values() if isinstance(value, str))]
    return any(pattern.search(text) for text in texts)


# Recall refuses a query without a word to search for (".*"); `matching` lists
# by windows of time, whatever the ranking, so it adds one to the pattern.
LISTING_WORD = "memory"


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
        self,
        query: str,
        limit: int = 10,
        filters: MemoryFilter | None = None,
        neighbours: bool = False,
    ) -> list[RecallHit]:
        """The memories that best match `query`, best first; with `neighbours`,
        each hit followed by the memories remembered beside it (their
        details' `neighbour_of` names the hit)."""
        wanted = (filters or MemoryFilter()).to_dbus()
        if neighbours:
            wanted["neighbours"] = Variant("b", True)
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

    async def matching(
        self, pattern: re.Pattern[str], kinds: Iterable[str] = ()
    ) -> list[MemoryRecord]:
        """The caller's memories (of `kinds`, if given) whose text or metadata
        `pattern` is found in, superseded ones included.

        The service has no listing: Recall, asked with the pattern, gives at
        most a batch of memories. A window of creation times that fills a
        batch is split in two and each half asked again, so every memory is
        seen once whatever the count. Each recalled memory counts as accessed."""
        wanted = tuple(kinds)
        batch = RECALL_BATCH
        found: dict[str, MemoryRecord] = {}
        windows = [(0.0, time.time() + CLOCK_SLACK_S)]
        while windows:
            since, until = windows.pop()
            only = MemoryFilter(kinds=wanted, since=since, until=until, include_superseded=True)
            try:
                hits = await self.recall(f"{pattern.pattern} {LISTING_WORD}", batch, only)
            except InvalidArgument:
                if batch == 1:
                    raise
                batch //= 2  # this service's max_limit is lower
                windows.append((since, until))
                continue
            if len(hits) >= batch and until - since > NARROWEST_WINDOW_S:
                middle = (since + until) / 2
                windows += [(since, middle), (middle, until)]
                continue
            # Both ends of a window are in it: a memory on a split is seen twice.
            found.update((hit.memory.id, hit.memory) for hit in hits)
        return [record for record in found.values() if record_matches(record, pattern)]

    async def forget_matching(self, pattern: re.Pattern[str], kinds: Iterable[str] = ()) -> int:
        """Forget the caller's memories that `pattern` is found in (see
        `matching`): a secret that reached memory is purged by its shape."""
        matched = await self.matching(pattern, kinds)
        return await self.forget([record.id for record in matched]) if matched else 0

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
    matching = blocking(Memory.matching)
    forget_matching = blocking(Memory.forget_matching)
    pin = blocking(Memory.pin)
    unpin = blocking(Memory.unpin)
    stats = blocking(Memory.stats)
