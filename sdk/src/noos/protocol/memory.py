"""The wire contract of org.noos.Memory1: the caller's semantic memory.

Every call acts on the memories of the calling uid, taken from the bus. Root
may act for another user only by naming it in the `for_uid` option, which the
service logs. A memory travels as `(id, text, kind, created_at,
last_accessed, metadata, details)`; Recall prefixes each with its score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Variant

from noos.protocol.options import InterfaceKeys, Option, OptionTable, plain

BUS_NAME = "org.noos.Memory1"
OBJECT_PATH = "/org/noos/Memory1"
INTERFACE = "org.noos.Memory1"

# The structs, as D-Bus signatures.
RECORD_SIGNATURE = "(sssdda{sv}a{sv})"
HIT_SIGNATURE = "(dsssdda{sv}a{sv})"

Scalar = str | int | float | bool
# D-Bus types a metadata value may have.
SCALAR_SIGNATURES = frozenset("sbyinqxtud")

FOR_UID = Option("for_uid", "u", "act on this user's memories (root, or as polkit allows; logged)")

REMEMBER_OPTIONS = OptionTable(
    "option",
    Option("importance", "d", "how much the memory matters, 0 to 1 (default: from its kind)"),
    Option("supersedes", "s", "the id of the memory this one contradicts"),
    FOR_UID,
)
FILTERS = (
    Option("kinds", "as", "only memories of these kinds"),
    Option("since", "d", "only memories made at or after this Unix time"),
    Option("until", "d", "only memories made before this Unix time"),
    Option("metadata", "a{sv}", "only memories whose metadata has these exact values"),
    Option("include_superseded", "b", "also memories a newer one contradicts"),
)
FILTER_OPTIONS = OptionTable("filter", *FILTERS, FOR_UID)
# Recall's: the filters, and whether to bring each hit's neighbours.
RECALL_OPTIONS = OptionTable(
    "filter",
    *FILTERS,
    Option(
        "neighbours",
        "b",
        "also each hit's neighbours: the memories remembered just before and after it, "
        "within minutes (marked neighbour_of)",
    ),
    FOR_UID,
)
UID_OPTIONS = OptionTable("option", FOR_UID)

# The details of a memory; Recall adds why it ranks.
RECORD_DETAILS = OptionTable(
    "detail",
    Option("importance", "d", "how much the memory matters, 0 to 1"),
    Option("pinned", "b", "pinned: maximal importance, never pruned"),
    Option("tier", "s", "where it is kept: hot (RAM), warm (chromadb) or cold (on disk)"),
    Option("access_count", "u", "how often it was recalled or read"),
    Option("provenance", "as", "the ids of the latest near-duplicates merged into it"),
    Option("superseded_at", "d", "when a newer memory contradicted it (Unix time)"),
    Option("superseded_by", "s", "the id of the memory that contradicts it"),
    Option(
        "relevance",
        "d",
        "Recall: how well it matches the query: the cosine, plus up to 1 for its words",
    ),
    Option(
        "similarity",
        "d",
        "Recall: the cosine of its embedding and the query's, -1 to 1 (the words left out):"
        " the same scale in every recall, for a bar on how close a hit is",
    ),
    Option("recency", "d", "Recall: how recent it is, 0 to 1"),
    Option("timely", "b", "Recall: the query asks when, and the memory says when"),
    Option(
        "neighbour_of",
        "s",
        "Recall: returned as the neighbour of this hit (remembered beside it), not for the query",
    ),
)
# What Stats answers.
STATS = OptionTable(
    "count",
    Option("hot_count", "u", "memories in the hot tier (RAM)"),
    Option("warm_count", "u", "memories in the warm tier (chromadb)"),
    Option("cold_count", "u", "memories in the cold tier (compressed on disk)"),
    Option("bytes_used", "t", "bytes on disk that the memories use"),
)

KEYS = InterfaceKeys(
    INTERFACE,
    arguments={
        ("Remember", "options"): REMEMBER_OPTIONS,
        ("Recall", "filters"): RECALL_OPTIONS,
        ("ForgetWhere", "filters"): FILTER_OPTIONS,
        ("Get", "options"): UID_OPTIONS,
        ("Forget", "options"): UID_OPTIONS,
        ("Pin", "options"): UID_OPTIONS,
        ("Unpin", "options"): UID_OPTIONS,
        ("Stats", "options"): UID_OPTIONS,
        ("WatchStats", "options"): UID_OPTIONS,
    },
    replies={
        "Get": RECORD_DETAILS,
        "Recall": RECORD_DETAILS,
        "Stats": STATS,
        "WatchStats": STATS,
        "StatsChanged": STATS,
    },
)

MemoryFields = tuple[str, str, str, float, float, dict[str, Variant], dict[str, Variant]]
HitFields = tuple[float, str, str, str, float, float, dict[str, Variant], dict[str, Variant]]


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
        return FILTER_OPTIONS.encode(
            {
                "kinds": self.kinds or None,
                "since": self.since,
                "until": self.until,
                "metadata": metadata_variants(self.metadata) if self.metadata else None,
                "include_superseded": self.include_superseded or None,
                "for_uid": self.for_uid,
            }
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
    return UID_OPTIONS.encode({"for_uid": for_uid})


def record_of(fields: Iterable[Any]) -> MemoryRecord:
    """A MemoryRecord from the struct of Get (or a hit's, less its score)."""
    memory_id, text, kind, created, accessed, metadata, details = fields
    return MemoryRecord(
        id=memory_id,
        text=text,
        kind=kind,
        created_at=created,
        last_accessed=accessed,
        metadata=plain(metadata),
        details=plain(details),
    )


def hit_of(fields: Sequence[Any]) -> RecallHit:
    """A RecallHit from one struct of Recall."""
    return RecallHit(score=fields[0], memory=record_of(fields[1:]))


def record_struct(record: MemoryRecord) -> MemoryFields:
    """The struct of `record`, as Get sends it."""
    return (
        record.id,
        record.text,
        record.kind,
        record.created_at,
        record.last_accessed,
        metadata_variants(record.metadata),
        RECORD_DETAILS.encode(record.details),
    )


def hit_struct(hit: RecallHit) -> HitFields:
    """The struct of `hit`, as Recall sends it."""
    return (hit.score, *record_struct(hit.memory))


def stats_of(values: Mapping[str, Variant]) -> dict[str, int]:
    """Stats' answer: the counts per tier and the bytes used."""
    return {key: int(value) for key, value in plain(values).items()}


@dataclass(frozen=True)
class MemoryStats:
    """The caller's memories per tier, and the bytes they use on disk."""

    hot: int
    warm: int
    cold: int
    bytes_used: int


def memory_stats_of(values: Mapping[str, Variant]) -> MemoryStats:
    """Stats' answer, or a StatsChanged signal's, as counts."""
    value = stats_of(values)
    return MemoryStats(
        hot=value.get("hot_count", 0),
        warm=value.get("warm_count", 0),
        cold=value.get("cold_count", 0),
        bytes_used=value.get("bytes_used", 0),
    )
