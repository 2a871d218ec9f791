"""The settings of org.noos.Memory1 (`noosd.runtime.settings`): /etc/noos/memory.toml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from noosd.memory.core.config import FUSIONS, MemoryConfig, ScoreWeights
from noosd.runtime.settings import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    PATH,
    TEXT,
    Check,
    Kind,
    Setting,
    Settings,
    SettingsError,
    SettingsTable,
    at_least,
    positive,
    state_directory,
)
from noosd.shared.models import MODELS_DIR

EMBEDDING_MODEL = "all-minilm-l6-v2"
DEFAULTS = MemoryConfig()


def fraction(value: float) -> str | None:
    return None if 0 <= value < 1 else f"must be at least 0 and less than 1, not {value}"


def fusion(value: str) -> str | None:
    return None if value in FUSIONS else f"must be one of {', '.join(FUSIONS)}, not {value!r}"


def similarity(value: float) -> str | None:
    return None if 0 < value <= 1 else f"must be more than 0 and at most 1, not {value}"


def tunable(name: str, kind: Kind, check: Check | None, help: str) -> Setting:
    """A field of `MemoryConfig`, by the same name, defaulting to its default there."""
    default = getattr(DEFAULTS, name)
    return Setting(name, kind, default, f"NOOS_MEMORY_{name.upper()}", help, check)


def weight(name: str, help: str) -> Setting:
    """A weight of a recall's score (`ScoreWeights`), as `weight_<name>`."""
    default = getattr(DEFAULTS.weights, name)
    env = f"NOOS_MEMORY_WEIGHT_{name.upper()}"
    return Setting(f"weight_{name}", NUMBER, default, env, help, at_least(0))


# The store's tunables; why each default is what it is: noosd/memory/core/config.py.
TUNABLES = (
    tunable("hot_capacity", INTEGER, at_least(1), "memories per user kept hot (RAM, exact search)"),
    tunable("warm_capacity", INTEGER, at_least(1), "memories per user kept warm (chromadb HNSW)"),
    tunable(
        "duplicate_similarity",
        NUMBER,
        similarity,
        "cosine from which two memories of a kind may be near-duplicates to merge",
    ),
    tunable("prune_threshold", NUMBER, fraction, "retention below which consolidation forgets"),
    tunable("cold_threshold", NUMBER, fraction, "retention below which a memory goes cold"),
    tunable("repetition_boost", NUMBER, fraction, "importance gap each repetition closes"),
    tunable("repetition_cap", NUMBER, fraction, "most of the importance gap repetitions close"),
    tunable("access_boost", NUMBER, fraction, "importance gap each access closes"),
    tunable("max_unwritten_warm", INTEGER, at_least(0), "warm memories held in RAM before written"),
    tunable("max_text_bytes", INTEGER, at_least(1), "the longest text remembered, in UTF-8 bytes"),
    tunable("max_limit", INTEGER, at_least(1), "the most hits one recall may ask for"),
    tunable(
        "max_memories_per_user",
        INTEGER,
        at_least(1),
        "the most memories one user may keep; more are refused (QuotaExceeded)",
    ),
    tunable(
        "max_bytes_per_user",
        INTEGER,
        at_least(1),
        "the most bytes of texts and metadata one user may keep (QuotaExceeded)",
    ),
    tunable(
        "min_free_bytes",
        INTEGER,
        at_least(0),
        "free bytes the state's file system keeps; a write finding no more is refused",
    ),
    tunable(
        "fusion",
        TEXT,
        fusion,
        "how recall fuses cosine with the words' BM25: sum, rrf, or none (cosine alone)",
    ),
    tunable("hot_on_gpu", BOOLEAN, None, "search the hot tier on a CUDA GPU when there is one"),
    weight("relevance", "weight of relevance (cosine to the query) in a recall's score"),
    weight("recency", "weight of recency in a recall's score"),
    weight("importance", "weight of importance in a recall's score"),
    weight("time_reference", "weight of a time the memory says, when the query asks when"),
)

SETTINGS = SettingsTable(
    "memory",
    (
        Setting(
            "state_dir",
            PATH,
            state_directory("memory"),
            "NOOS_MEMORY_STATE_DIR",
            "where every user's memories are kept",
        ),
        MODELS_DIR,
        Setting(
            "consolidate_every_s",
            NUMBER,
            3600.0,
            "NOOS_MEMORY_CONSOLIDATE_S",
            "seconds between consolidations (merging, decay, pruning, tiering)",
            positive,
        ),
        Setting(
            "half_life_s",
            NUMBER,
            MemoryConfig().half_life_s,
            "NOOS_MEMORY_HALF_LIFE_S",
            "recency halves for every this many seconds since a memory was last accessed",
            positive,
        ),
        *TUNABLES,
    ),
)


@dataclass(frozen=True)
class MemorySettings:
    """Where the service keeps its state, its embedding model, and how often it consolidates."""

    state_dir: Path
    model_dir: Path
    consolidate_every_s: float
    config: MemoryConfig

    @classmethod
    def of(cls, settings: Settings) -> MemorySettings:
        return cls(
            state_dir=settings["state_dir"],
            model_dir=settings["models_dir"] / EMBEDDING_MODEL,
            consolidate_every_s=settings["consolidate_every_s"],
            config=memory_config(settings),
        )


def memory_config(settings: Settings) -> MemoryConfig:
    """The store's tunables; SettingsError when they do not fit together."""
    weights = {
        setting.name.removeprefix("weight_"): settings[setting.name]
        for setting in TUNABLES
        if setting.name.startswith("weight_")
    }
    fields = {
        setting.name: settings[setting.name]
        for setting in TUNABLES
        if not setting.name.startswith("weight_")
    }
    try:
        return MemoryConfig(
            half_life_s=settings["half_life_s"], weights=ScoreWeights(**weights), **fields
        )
    except ValueError as error:  # each value is right alone, not together
        raise SettingsError(f"memory settings: {error}") from None
