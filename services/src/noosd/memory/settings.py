"""The settings of org.noos.Memory1 (`noosd.runtime.settings`): /etc/noos/memory.toml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from noosd.memory.core.config import MemoryConfig
from noosd.runtime.settings import (
    NUMBER,
    PATH,
    Setting,
    Settings,
    SettingsTable,
    positive,
    state_directory,
)
from noosd.shared.models import MODELS_DIR

EMBEDDING_MODEL = "all-minilm-l6-v2"

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
            config=MemoryConfig(half_life_s=settings["half_life_s"]),
        )
