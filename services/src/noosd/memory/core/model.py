"""What the memory store hands out: memories, recall hits, statistics and reports."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

MetadataValue = str | int | float | bool


class Tier(enum.StrEnum):
    """Where a memory lives; see the package docstring for what each tier costs."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


@dataclass(frozen=True)
class Memory:
    """One remembered thing, as stored now.

    `importance` is the effective importance in [0, 1] (the hint or the kind's
    default, raised by repetition and access; 1 when pinned). `repetitions`
    counts the near-duplicates merged into this memory; `provenance` lists the
    ids of the latest of them (up to 100), oldest first, and
    `provenance_created_at` when each of those was remembered.
    """

    id: str
    uid: int
    text: str
    kind: str
    metadata: dict[str, MetadataValue]
    created_at: float
    last_accessed: float
    access_count: int
    importance: float
    pinned: bool
    tier: Tier
    superseded_at: float | None
    superseded_by: str | None
    provenance: tuple[str, ...]
    provenance_created_at: tuple[float, ...]
    repetitions: int


@dataclass(frozen=True)
class Hit:
    """A recalled memory with its score and the score's unweighted components."""

    memory: Memory
    score: float
    relevance: float
    recency: float
    importance: float
    # The query asked when, and the memory says when (see scoring).
    timely: bool
    # The cosine of its embedding and the query's: relevance without the words,
    # on one scale for every recall (a bar set on it means the same each time).
    similarity: float
    # Returned as the neighbour of this hit (remembered beside it), not for the query.
    neighbour_of: str | None = None


@dataclass(frozen=True)
class TierStats:
    """One user's memories per tier, and the bytes their files take on disk."""

    counts: Mapping[Tier, int]
    bytes_used: int


@dataclass(frozen=True)
class ConsolidationReport:
    """What one `MemoryStore.consolidate` did, summed over all users.

    `decayed` counts the memories re-scored (their retention recomputed for the
    time elapsed); `merged` the near-duplicates folded into a survivor (since
    the last consolidation: repetitions may be folded before it, when the
    store's write-behind buffer fills); `pruned`
    the memories forgotten for a retention below the threshold; `promoted` and
    `demoted` the tier moves up and down; `bytes_reclaimed` how much smaller the
    users' files became.
    """

    users: int = 0
    decayed: int = 0
    merged: int = 0
    pruned: int = 0
    promoted: int = 0
    demoted: int = 0
    bytes_reclaimed: int = 0

    def __add__(self, other: ConsolidationReport) -> ConsolidationReport:
        return ConsolidationReport(
            users=self.users + other.users,
            decayed=self.decayed + other.decayed,
            merged=self.merged + other.merged,
            pruned=self.pruned + other.pruned,
            promoted=self.promoted + other.promoted,
            demoted=self.demoted + other.demoted,
            bytes_reclaimed=self.bytes_reclaimed + other.bytes_reclaimed,
        )
