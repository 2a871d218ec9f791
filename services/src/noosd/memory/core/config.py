"""The tunables of the memory store, with their defaults and why."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# How a recall's relevance fuses the cosine with the words' BM25 (see fusion;
# named here so that reading the settings loads no numerical library).
SUM = "sum"
RRF = "rrf"
NONE = "none"
FUSIONS = (SUM, RRF, NONE)


@dataclass(frozen=True)
class ScoreWeights:
    """The weights of a recall's score (see scoring): relevance dominates, so
    that what is asked for comes first, while recency, importance and a time
    the memory mentions (for a question that asks when) break near-ties."""

    relevance: float = 1.0
    recency: float = 0.03
    importance: float = 0.1
    time_reference: float = 0.08

    def __post_init__(self) -> None:
        weights = (self.relevance, self.recency, self.importance, self.time_reference)
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"score weights must be finite, >= 0 and not all 0: {self}")


@dataclass(frozen=True)
class MemoryConfig:
    """How the store scores, places, merges and forgets memories.

    half_life_s: recency halves for every this many seconds since a memory was
        last accessed (default one week).
    hot_capacity: memories per user kept hot (in RAM, searched exhaustively).
    warm_capacity: memories per user kept warm (in chromadb's HNSW index).
        Everything else of a user is cold.
    weights: the weights of relevance, recency, importance and time reference
        in a recall's score.
    fusion: how a recall's relevance fuses the cosine with the lexical (BM25)
        evidence: "sum" (the default), "rrf" or "none" (cosine alone); see fusion.
    duplicate_similarity: the cosine from which two memories of the same kind
        may be near-duplicates that consolidation merges (if they also say
        the same words, or are events naming the same particulars).
    prune_threshold: consolidation forgets a memory whose retention
        ((recency + importance) / 2) falls below this; 0 forgets nothing.
    cold_threshold: consolidation moves a memory whose retention falls below
        this to the cold tier, where it waits, compressed, to be forgotten or
        recalled.
    repetition_boost: each merged near-duplicate closes this fraction of the
        gap between a memory's importance and 1...
    repetition_cap: ...but repetitions close at most this fraction of it.
    access_boost: each access (a recall that returns it, a get) closes this
        fraction of the gap between a memory's importance and 1.
    max_unwritten_warm: warm memories kept in the hot matrix, not yet written
        to chromadb, before they are (after merging the repetitions among
        them); otherwise they are written at consolidation, after it merged
        and pruned what it could, so that memories about to be merged away
        never cost a chromadb write. Each thousand of them adds ~0.12 ms of
        exhaustive search to every recall.
    max_text_bytes: the longest text remembered, in UTF-8 bytes.
    max_limit: the most hits one recall may ask for.
    max_memories_per_user: the most memories one user may keep (every tier,
        the cold one held in RAM too); past it, remembering is refused
        (QuotaExceeded). A million: ten times what the recall benchmark keeps.
    max_bytes_per_user: the most bytes of texts and metadata one user may
        keep, as stored (a cold text compressed); past it, likewise.
    hot_on_gpu: search the hot tier with torch on CUDA when torch is loaded and sees a GPU.
    min_free_bytes: the free space the state's file system keeps: a write that
        finds no more is refused (Unavailable) before it touches SQLite or
        chromadb (whose writes hang on a full disk), and chromadb's
        write-behind waits. 128 MiB: above a flush of max_unwritten_warm
        (10,000) memories, ~10,000 x 1.5 KiB of vector twice (HNSW and
        chromadb's SQLite) plus texts, by that arithmetic, not measured.
    """

    half_life_s: float = 7 * 86400.0
    hot_capacity: int = 1000
    warm_capacity: int = 100_000
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    fusion: str = SUM
    duplicate_similarity: float = 0.95
    prune_threshold: float = 0.1
    cold_threshold: float = 0.25
    repetition_boost: float = 0.2
    repetition_cap: float = 0.5
    access_boost: float = 0.05
    max_unwritten_warm: int = 10_000
    max_text_bytes: int = 64 * 1024
    max_limit: int = 1000
    max_memories_per_user: int = 1_000_000
    max_bytes_per_user: int = 1024**3
    hot_on_gpu: bool = True
    min_free_bytes: int = 128 * 1024**2

    def __post_init__(self) -> None:
        if not (math.isfinite(self.half_life_s) and self.half_life_s > 0):
            raise ValueError(f"half_life_s must be > 0, not {self.half_life_s}")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}")
        if self.hot_capacity < 1 or self.warm_capacity < 1:
            raise ValueError("hot_capacity and warm_capacity must be >= 1")
        if not 0 < self.duplicate_similarity <= 1:
            raise ValueError(
                f"duplicate_similarity must be in (0, 1], not {self.duplicate_similarity}"
            )
        for name in (
            "prune_threshold",
            "cold_threshold",
            "repetition_boost",
            "repetition_cap",
            "access_boost",
        ):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), not {value}")
        if self.max_memories_per_user < 1 or self.max_bytes_per_user < 1:
            raise ValueError("max_memories_per_user and max_bytes_per_user must be >= 1")
        if self.min_free_bytes < 0:
            raise ValueError(f"min_free_bytes must be >= 0, not {self.min_free_bytes}")
        if self.max_text_bytes < 1 or self.max_limit < 1 or self.max_unwritten_warm < 0:
            raise ValueError("max_text_bytes and max_limit must be >= 1, max_unwritten_warm >= 0")
