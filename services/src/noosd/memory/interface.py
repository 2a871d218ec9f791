"""The org.noos.Memory1 interface: a thin D-Bus facade over `MemoryStore`.

Every call acts on the memories of the calling uid, taken from the bus. Root
may act for another user only by naming it in the `for_uid` option, which the
runtime logs. Options and filters are `a{sv}` so that busctl and gdbus users
can leave out what they don't need:

- Remember options: `importance` (d, 0..1), `supersedes` (s, the id of the
  fact this one contradicts), `for_uid` (u).
- Recall/ForgetWhere filters: `kinds` (as), `since` / `until` (d, Unix
  seconds), `metadata` (a{sv}, exact matches), `include_superseded` (b),
  `for_uid` (u).
- A memory is `(id, text, kind, created_at, last_accessed, metadata, details)`
  with details `importance` (d), `pinned` (b), `tier` (s), `access_count` (u),
  `provenance` (as), and `superseded_at` (d) / `superseded_by` (s) when set;
  Recall prefixes each with its score, and adds `relevance`, `recency`
  (d) and `timely` (b: the query asks when, the memory says when) to details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from dbus_fast import PropertyAccess, Variant
from dbus_fast.annotations import DBusSignature, DBusStr, DBusUInt32, DBusUInt64
from dbus_fast.service import ServiceInterface, dbus_property, dbus_signal

from noos.memory import metadata_variants
from noos.protocol.errors import InvalidArgument
from noosd.memory.filters import RecallFilter
from noosd.memory.model import Hit, Memory, MetadataValue, Tier, TierStats
from noosd.memory.runner import StoreRunner
from noosd.runtime import (
    caller_uid,
    caller_uid_if_any,
    effective_uid,
    noos_method,
    options_of,
    signal_caller,
)

INTERFACE_NAME = "org.noos.Memory1"
OBJECT_PATH = "/org/noos/Memory1"

VariantDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
StringList = Annotated[list[str], DBusSignature("as")]
MemoryFields = tuple[str, str, str, float, float, dict[str, Variant], dict[str, Variant]]
HitFields = tuple[float, str, str, str, float, float, dict[str, Variant], dict[str, Variant]]
MemoryStruct = Annotated[MemoryFields, DBusSignature("(sssdda{sv}a{sv})")]
HitList = Annotated[list[HitFields], DBusSignature("a(dsssdda{sv}a{sv})")]

# D-Bus types a metadata value may have, and how each comes back out.
SCALAR_SIGNATURES = frozenset("sbyinqxtud")
REMEMBER_OPTIONS = {"importance": "d", "supersedes": "s", "for_uid": "u"}
FILTER_OPTIONS = {
    "kinds": "as",
    "since": "d",
    "until": "d",
    "metadata": "a{sv}",
    "include_superseded": "b",
    "for_uid": "u",
}
UID_OPTIONS = {"for_uid": "u"}


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


def details_of(memory: Memory) -> dict[str, Variant]:
    details = {
        "importance": Variant("d", memory.importance),
        "pinned": Variant("b", memory.pinned),
        "tier": Variant("s", str(memory.tier)),
        "access_count": Variant("u", memory.access_count),
        "provenance": Variant("as", list(memory.provenance)),
    }
    if memory.superseded_at is not None:
        details["superseded_at"] = Variant("d", memory.superseded_at)
    if memory.superseded_by is not None:
        details["superseded_by"] = Variant("s", memory.superseded_by)
    return details


def struct_of(memory: Memory) -> MemoryFields:
    return (
        memory.id,
        memory.text,
        memory.kind,
        memory.created_at,
        memory.last_accessed,
        metadata_variants(memory.metadata),
        details_of(memory),
    )


def hit_struct(hit: Hit) -> HitFields:
    memory_id, text, kind, created, accessed, metadata, details = struct_of(hit.memory)
    details["relevance"] = Variant("d", hit.relevance)
    details["recency"] = Variant("d", hit.recency)
    details["importance"] = Variant("d", hit.importance)
    details["timely"] = Variant("b", hit.timely)
    return (hit.score, memory_id, text, kind, created, accessed, metadata, details)


def recall_filter(options: Mapping[str, Any]) -> RecallFilter:
    return RecallFilter(
        kinds=frozenset(options.get("kinds", ())),
        since=options.get("since"),
        until=options.get("until"),
        metadata=plain_metadata(options.get("metadata", {})),
        include_superseded=bool(options.get("include_superseded", False)),
    )


class MemoryInterface(ServiceInterface):
    """Remember, recall, forget: the caller's own memories."""

    def __init__(self, store: StoreRunner) -> None:
        super().__init__(INTERFACE_NAME)
        self._store = store

    @staticmethod
    async def _uid(options: Mapping[str, Any]) -> int:
        return effective_uid(await caller_uid(), options.get("for_uid"))

    @noos_method()
    async def Remember(
        self, text: DBusStr, kind: DBusStr, metadata: VariantDict, options: VariantDict
    ) -> DBusStr:
        """Remember `text` of `kind` with `metadata`; the new memory's id."""
        opts = options_of(options, REMEMBER_OPTIONS, "option")
        uid, plain = await self._uid(opts), plain_metadata(metadata)
        memory = await self._store.run(
            lambda store: store.remember(
                uid, text, kind, plain, opts.get("importance"), opts.get("supersedes")
            )
        )
        signal_caller(OBJECT_PATH, INTERFACE_NAME, "Remembered", "ss", [memory.id, memory.kind])
        return memory.id

    @noos_method()
    async def Recall(self, query: DBusStr, limit: DBusUInt32, filters: VariantDict) -> HitList:
        """The `limit` memories that best match `query`, best first."""
        opts = options_of(filters, FILTER_OPTIONS, "filter")
        uid, wanted = await self._uid(opts), recall_filter(opts)
        hits = await self._store.run(lambda store: store.recall(uid, query, limit, wanted))
        self._store.settle_later()
        return [hit_struct(hit) for hit in hits]

    @noos_method()
    async def Get(self, id: DBusStr, options: VariantDict) -> MemoryStruct:
        """The memory `id`."""
        uid = await self._uid(options_of(options, UID_OPTIONS, "option"))
        return struct_of(await self._store.run(lambda store: store.get(uid, id)))

    @noos_method()
    async def Forget(self, ids: StringList, options: VariantDict) -> DBusUInt32:
        """Forget the memories `ids`; how many were forgotten."""
        uid = await self._uid(options_of(options, UID_OPTIONS, "option"))
        return await self._store.run(lambda store: store.forget(uid, ids))

    @noos_method()
    async def ForgetWhere(self, filters: VariantDict) -> DBusUInt32:
        """Forget every memory that matches `filters`; how many were forgotten."""
        opts = options_of(filters, FILTER_OPTIONS, "filter")
        if not set(opts) - {"for_uid", "include_superseded"}:
            raise InvalidArgument("ForgetWhere needs at least one filter: use Forget for ids")
        uid, wanted = await self._uid(opts), recall_filter(opts)
        return await self._store.run(lambda store: store.forget_where(uid, wanted))

    @noos_method()
    async def Pin(self, id: DBusStr, options: VariantDict) -> None:
        """Pin memory `id`: maximal importance, never pruned."""
        uid = await self._uid(options_of(options, UID_OPTIONS, "option"))
        await self._store.run(lambda store: store.pin(uid, id, True))

    @noos_method()
    async def Unpin(self, id: DBusStr, options: VariantDict) -> None:
        """Unpin memory `id`."""
        uid = await self._uid(options_of(options, UID_OPTIONS, "option"))
        await self._store.run(lambda store: store.pin(uid, id, False))

    @noos_method()
    async def Stats(self, options: VariantDict) -> VariantDict:
        """The caller's memories per tier and the bytes they use."""
        uid = await self._uid(options_of(options, UID_OPTIONS, "option"))
        stats = await self._store.run(lambda store: store.stats(uid))
        result = {f"{tier}_count": Variant("u", stats.counts.get(tier, 0)) for tier in Tier}
        result["bytes_used"] = Variant("t", stats.bytes_used)
        return result

    @dbus_signal()
    def Remembered(self, id: DBusStr, kind: DBusStr) -> Annotated[list[str], DBusSignature("ss")]:
        """Sent to the remembering connection only (never broadcast): per-user data."""
        return [id, kind]

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
