"""The org.noos.Memory1 interface: a thin D-Bus facade over `MemoryStore`.

Every call acts on the memories of the calling uid, taken from the bus. Root,
or whom polkit allows `org.noos.memory.act-for-user`, may act for another user
only by naming it in the `for_uid` option, which the runtime logs. The
options, filters and structs are the protocol's (`noos.protocol.memory`), with
each key's type and meaning. The counts
(`Stats`, `WatchStats`, `StatsChanged`) are the caller's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from dbus_fast import PropertyAccess, Variant
from dbus_fast.annotations import DBusSignature, DBusStr, DBusUInt32, DBusUInt64
from dbus_fast.service import dbus_property, dbus_signal

from noos.protocol.actions import MEMORY_ACT_FOR_USER
from noos.protocol.errors import InvalidArgument
from noos.protocol.memory import (
    FILTER_OPTIONS,
    HIT_SIGNATURE,
    INTERFACE,
    OBJECT_PATH,
    RECALL_OPTIONS,
    RECORD_SIGNATURE,
    REMEMBER_OPTIONS,
    SCALAR_SIGNATURES,
    STATS,
    UID_OPTIONS,
    HitFields,
    MemoryFields,
    MemoryRecord,
    RecallHit,
    hit_struct,
    record_struct,
)
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.model import Hit, Memory, MetadataValue, Tier, TierStats
from noosd.memory.engine import StoreRunner
from noosd.runtime import (
    NoosInterface,
    caller_uid,
    caller_uid_if_any,
    effective_uid,
    noos_method,
    signal_caller,
)
from noosd.runtime.watchers import Watchers

if TYPE_CHECKING:  # the store imports numpy; the facade is imported before it is needed
    from noosd.memory.store import MemoryStore

T = TypeVar("T")

VariantDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
StringList = Annotated[list[str], DBusSignature("as")]
MemoryStruct = Annotated[MemoryFields, DBusSignature(RECORD_SIGNATURE)]
HitList = Annotated[list[HitFields], DBusSignature(f"a{HIT_SIGNATURE}")]


def plain_metadata(metadata: Mapping[str, Variant]) -> dict[str, MetadataValue]:
    plain: dict[str, MetadataValue] = {}
    for key, variant in metadata.items():
        if variant.signature not in SCALAR_SIGNATURES:
            raise InvalidArgument(
                f"metadata {key!r} has D-Bus type {variant.signature!r}: "
                "only strings, numbers and booleans are allowed"
            )
        plain[key] = variant.value
    return plain


def details_of(memory: Memory) -> dict[str, Any]:
    """The details of `memory` (RECORD_DETAILS' keys); None ones are left out on the wire."""
    return {
        "importance": memory.importance,
        "pinned": memory.pinned,
        "tier": str(memory.tier),
        "access_count": memory.access_count,
        "provenance": list(memory.provenance),
        "superseded_at": memory.superseded_at,
        "superseded_by": memory.superseded_by,
    }


def record_of(memory: Memory, details: dict[str, Any] | None = None) -> MemoryRecord:
    return MemoryRecord(
        id=memory.id,
        text=memory.text,
        kind=memory.kind,
        created_at=memory.created_at,
        last_accessed=memory.last_accessed,
        metadata=dict(memory.metadata),
        details=details_of(memory) if details is None else details,
    )


def struct_of(memory: Memory) -> MemoryFields:
    return record_struct(record_of(memory))


def recall_hit_struct(hit: Hit) -> HitFields:
    details = details_of(hit.memory)
    details["relevance"] = hit.relevance
    details["similarity"] = hit.similarity
    details["recency"] = hit.recency
    details["importance"] = hit.importance
    details["timely"] = hit.timely
    details["neighbour_of"] = hit.neighbour_of
    return hit_struct(RecallHit(hit.score, record_of(hit.memory, details)))


def stats_dict(stats: TierStats) -> dict[str, Variant]:
    counts: dict[str, int] = {f"{tier}_count": stats.counts.get(tier, 0) for tier in Tier}
    return STATS.encode({**counts, "bytes_used": stats.bytes_used})


def recall_filter(options: Mapping[str, Any]) -> RecallFilter:
    return RecallFilter(
        kinds=frozenset(options.get("kinds", ())),
        since=options.get("since"),
        until=options.get("until"),
        metadata=plain_metadata(options.get("metadata", {})),
        include_superseded=bool(options.get("include_superseded", False)),
    )


class MemoryInterface(NoosInterface):
    """Remember, recall, forget: the caller's own memories."""

    def __init__(self, store: StoreRunner) -> None:
        super().__init__(INTERFACE)
        self._store = store
        # The counts are a user's business: StatsChanged goes to its watchers alone.
        self._watchers = Watchers(OBJECT_PATH, INTERFACE)

    @staticmethod
    async def _uid(options: Mapping[str, Any]) -> int:
        return await effective_uid(await caller_uid(), options.get("for_uid"), MEMORY_ACT_FOR_USER)

    async def _as_caller(
        self, options: VariantDict, work: Callable[[MemoryStore, int], T]
    ) -> tuple[int, T]:
        """`work(store, uid)` on the store's thread, for the caller (or the user
        root names in `for_uid`); the uid it ran for, and what it returned."""
        uid = await self._uid(UID_OPTIONS.decode(options))
        return uid, await self._store.run(lambda store: work(store, uid))

    @noos_method()
    async def Remember(
        self, text: DBusStr, kind: DBusStr, metadata: VariantDict, options: VariantDict
    ) -> DBusStr:
        """Remember `text` of `kind` with `metadata`; the new memory's id."""
        opts = REMEMBER_OPTIONS.decode(options)
        uid, plain = await self._uid(opts), plain_metadata(metadata)
        memory = await self._store.run(
            lambda store: store.remember(
                uid, text, kind, plain, opts.get("importance"), opts.get("supersedes")
            )
        )
        signal_caller(OBJECT_PATH, INTERFACE, "Remembered", "ss", [memory.id, memory.kind])
        await self._counts_changed(uid)
        return memory.id

    @noos_method()
    async def Recall(self, query: DBusStr, limit: DBusUInt32, filters: VariantDict) -> HitList:
        """The `limit` memories that best match `query`, best first."""
        opts = RECALL_OPTIONS.decode(filters)
        uid, wanted = await self._uid(opts), recall_filter(opts)
        neighbours = bool(opts.get("neighbours", False))
        hits = await self._store.run(
            lambda store: store.recall(uid, query, limit, wanted, neighbours)
        )
        self._store.settle_later()
        return [recall_hit_struct(hit) for hit in hits]

    @noos_method()
    async def Get(self, id: DBusStr, options: VariantDict) -> MemoryStruct:
        """The memory `id`."""
        _, memory = await self._as_caller(options, lambda store, uid: store.get(uid, id))
        return struct_of(memory)

    @noos_method()
    async def Forget(self, ids: StringList, options: VariantDict) -> DBusUInt32:
        """Forget the memories `ids`; how many were forgotten."""
        uid, forgotten = await self._as_caller(options, lambda store, uid: store.forget(uid, ids))
        await self._counts_changed(uid)
        return forgotten

    @noos_method()
    async def ForgetWhere(self, filters: VariantDict) -> DBusUInt32:
        """Forget every memory that matches `filters`; how many were forgotten."""
        opts = FILTER_OPTIONS.decode(filters)
        if not set(opts) - {"for_uid", "include_superseded"}:
            raise InvalidArgument("ForgetWhere needs at least one filter: use Forget for ids")
        uid, wanted = await self._uid(opts), recall_filter(opts)
        forgotten = await self._store.run(lambda store: store.forget_where(uid, wanted))
        await self._counts_changed(uid)
        return forgotten

    @noos_method()
    async def Pin(self, id: DBusStr, options: VariantDict) -> None:
        """Pin memory `id`: maximal importance, never pruned."""
        await self._as_caller(options, lambda store, uid: store.pin(uid, id, True))

    @noos_method()
    async def Unpin(self, id: DBusStr, options: VariantDict) -> None:
        """Unpin memory `id`."""
        await self._as_caller(options, lambda store, uid: store.pin(uid, id, False))

    @noos_method()
    async def Stats(self, options: VariantDict) -> VariantDict:
        """The caller's memories per tier and the bytes they use."""
        _, stats = await self._as_caller(options, lambda store, uid: store.stats(uid))
        return stats_dict(stats)

    @noos_method()
    async def WatchStats(self, options: VariantDict) -> VariantDict:
        """Send StatsChanged to this connection whenever the caller's counts
        change, until UnwatchStats or it leaves the bus; the counts now."""
        uid = await self._uid(UID_OPTIONS.decode(options))
        # Registered before the counts are read: a change after the read is sent.
        self._watchers.add_caller(uid)
        return stats_dict(await self._store.run(lambda store: store.stats(uid)))

    @noos_method()
    async def UnwatchStats(self) -> None:
        """Send this connection no more StatsChanged."""
        self._watchers.remove_caller()

    async def _counts_changed(self, uid: int) -> None:
        if uid in self._watchers.uids():
            stats = await self._store.run(lambda store: store.stats(uid))
            self._watchers.send(uid, "StatsChanged", "a{sv}", [stats_dict(stats)])

    async def counts_changed_for_all(self) -> None:
        """Send every watched user's counts (after a consolidation moved tiers)."""
        for uid in self._watchers.uids():
            await self._counts_changed(uid)

    @dbus_signal()
    def Remembered(self, id: DBusStr, kind: DBusStr) -> Annotated[list[str], DBusSignature("ss")]:
        """Sent to the remembering connection only (never broadcast): per-user data."""
        return [id, kind]

    @dbus_signal()
    def StatsChanged(self) -> VariantDict:
        """The watcher's counts, as Stats gives them; sent unicast to the
        connections that called WatchStats, never broadcast (`Watchers`)."""
        raise NotImplementedError("sent by Watchers.send, to one connection at a time")

    # Properties are the caller's own view, like every call; with no caller
    # (dbus-fast announcing the object) there is nobody's data to show.
    async def _own_stats(self) -> TierStats | None:
        uid = await caller_uid_if_any()
        return None if uid is None else await self._store.run(lambda store: store.stats(uid))

    async def _count(self, tier: Tier) -> int:
        stats = await self._own_stats()
        return 0 if stats is None else stats.counts.get(tier, 0)

    @dbus_property(access=PropertyAccess.READ)
    async def HotCount(self) -> DBusUInt32:
        """The caller's memories in the hot tier (RAM)."""
        return await self._count(Tier.HOT)

    @dbus_property(access=PropertyAccess.READ)
    async def WarmCount(self) -> DBusUInt32:
        """The caller's memories in the warm tier (chromadb)."""
        return await self._count(Tier.WARM)

    @dbus_property(access=PropertyAccess.READ)
    async def ColdCount(self) -> DBusUInt32:
        """The caller's memories in the cold tier (compressed on disk)."""
        return await self._count(Tier.COLD)

    @dbus_property(access=PropertyAccess.READ)
    async def BytesUsed(self) -> DBusUInt64:
        """Bytes on disk that the caller's memories use."""
        stats = await self._own_stats()
        return 0 if stats is None else stats.bytes_used
