"""The client of org.noos.Memory1: the caller's semantic memory.

async with await Memory.connect() as memory:
    memory_id = await memory.remember("the build needs libfoo-dev", kind="note")
    for hit in await memory.recall("what does the build need?", limit=5):
        print(hit.score, hit.memory.text)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Message, Variant

from noos.client import Client
from noos.sync import SyncClient, blocking
from noos.watch import DBUS_NAME, DBUS_PATH, Watch, match_rule

Scalar = str | int | float | bool


@dataclass(frozen=True)
class MemoryRecord:
    """One memory: its text and kind, when it was made and last used, and why it ranks."""

    id: str
    text: str
    kind: str
    created_at: float
    last_accessed: float
    metadata: dict[str, Scalar]
    details: dict[str, Any]


@dataclass(frozen=True)
class RecallHit:
    score: float
    memory: MemoryRecord


@dataclass(frozen=True)
class MemoryFilter:
    """What Recall and ForgetWhere consider; empty means everything."""

    kinds: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    metadata: Mapping[str, Scalar] = field(default_factory=dict)
    include_superseded: bool = False
    for_uid: int | None = None

    def to_dbus(self) -> dict[str, Variant]:
        options: dict[str, Variant] = {}
        if self.kinds:
            options["kinds"] = Variant("as", list(self.kinds))
        if self.since is not None:
            options["since"] = Variant("d", float(self.since))
        if self.until is not None:
            options["until"] = Variant("d", float(self.until))
        if self.metadata:
            options["metadata"] = Variant("a{sv}", metadata_variants(self.metadata))
        if self.include_superseded:
            options["include_superseded"] = Variant("b", True)
        options.update(for_uid_option(self.for_uid))
        return options


@dataclass(frozen=True)
class MemoryStats:
    """The caller's memories per tier, and the bytes they use on disk."""

    hot: int
    warm: int
    cold: int
    bytes_used: int


def memory_stats_of(stats: Mapping[str, Variant]) -> MemoryStats:
    value = {key: int(variant.value) for key, variant in stats.items()}
    return MemoryStats(
        hot=value.get("hot_count", 0),
        warm=value.get("warm_count", 0),
        cold=value.get("cold_count", 0),
        bytes_used=value.get("bytes_used", 0),
    )


def scalar_variant(value: Scalar) -> Variant:
    if isinstance(value, bool):
        return Variant("b", value)
    if isinstance(value, int):
        return Variant("x", value)
    if isinstance(value, float):
        return Variant("d", value)
    return Variant("s", value)


def metadata_variants(metadata: Mapping[str, Scalar]) -> dict[str, Variant]:
    return {key: scalar_variant(value) for key, value in metadata.items()}


def for_uid_option(for_uid: int | None) -> dict[str, Variant]:
    return {} if for_uid is None else {"for_uid": Variant("u", for_uid)}


def record_of(fields: Iterable[Any]) -> MemoryRecord:
    memory_id, text, kind, created, accessed, metadata, details = fields
    return MemoryRecord(
        id=memory_id,
        text=text,
        kind=kind,
        created_at=created,
        last_accessed=accessed,
        metadata={key: variant.value for key, variant in metadata.items()},
        details={key: variant.value for key, variant in details.items()},
    )


class Memory(Client):
    """Async client of org.noos.Memory1."""

    bus_name = "org.noos.Memory1"
    object_path = "/org/noos/Memory1"
    interface = "org.noos.Memory1"

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
        options = for_uid_option(for_uid)
        if importance is not None:
            options["importance"] = Variant("d", float(importance))
        if supersedes is not None:
            options["supersedes"] = Variant("s", supersedes)
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
        return [RecallHit(score=hit[0], memory=record_of(hit[1:])) for hit in hits]

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
        return {key: int(variant.value) for key, variant in stats.items()}

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

        # A signal sent to us is delivered whatever our match rules say: only
        # the one from the service that we subscribed with is believed.
        service_owner: list[str] = []  # its unique name, once subscribed

        def decode(message: Message) -> MemoryStats | None:
            if (
                message.sender not in service_owner
                or message.interface != self.interface
                or message.member != "StatsChanged"
                or message.path != self.object_path
                or message.signature != "a{sv}"
            ):
                return None
            return memory_stats_of(message.body[0])

        async def subscribe() -> list[MemoryStats]:
            (owner,) = await self.connection.call(
                DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetNameOwner", "s", (self.bus_name,)
            )
            service_owner.append(owner)
            (stats,) = await self._call("WatchStats", "a{sv}", {})
            return [memory_stats_of(stats)]

        async def unsubscribe() -> None:
            await self._call("UnwatchStats")

        return Watch(self.connection, [rule], decode, subscribe=subscribe, unsubscribe=unsubscribe)


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
