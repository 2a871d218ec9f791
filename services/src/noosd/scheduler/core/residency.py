"""Which models are in memory: loads on demand and evictions by cost.

Memory is a RAM budget and a VRAM budget; a model counts against them from the
moment its load is decided until its eviction is. Nothing is evicted while a
load fits in free memory: an idle model costs nothing until its memory is
wanted, and may be wanted again. When a load does not fit, the cheapest
evictable models go first, where the cost of evicting one is the reload it
may cause, per byte it frees:

    cost = load_seconds * 0.5 ** (idle_seconds / idle_half_life_s) / bytes

so a big, quick-to-load model idle for long goes before a small, slow one in
use a moment ago. `load_seconds` is the model's last measured load, else the
catalog's estimate. A pinned model, a model some job holds, and a model still
loading are never evicted. A model is resident by its name alone: what a job
samples with is no part of it.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from noosd.scheduler.core.catalog import ModelSpec


class Phase(StrEnum):
    ABSENT = "absent"
    LOADING = "loading"
    RESIDENT = "resident"


@dataclass
class _InMemory:
    model: ModelSpec
    phase: Phase
    load_started_at: float
    # When a job last started or ended on it (or it finished loading).
    last_used: float


class Residency:
    def __init__(self, ram_bytes: int, vram_bytes: int, idle_half_life_s: float) -> None:
        self.ram_bytes = ram_bytes
        self.vram_bytes = vram_bytes
        self.idle_half_life_s = idle_half_life_s
        self._in_memory: dict[str, _InMemory] = {}
        self._measured_load_s: dict[str, float] = {}

    def phase(self, model: str) -> Phase:
        entry = self._in_memory.get(model)
        return entry.phase if entry else Phase.ABSENT

    def models(self, phase: Phase) -> list[str]:
        return sorted(name for name, entry in self._in_memory.items() if entry.phase is phase)

    @property
    def ram_used(self) -> int:
        return sum(entry.model.ram_bytes for entry in self._in_memory.values())

    @property
    def vram_used(self) -> int:
        return sum(entry.model.vram_bytes for entry in self._in_memory.values())

    def can_ever_hold(self, model: ModelSpec) -> bool:
        return model.ram_bytes <= self.ram_bytes and model.vram_bytes <= self.vram_bytes

    def fits_free(self, models: Collection[ModelSpec]) -> bool:
        """Whether the models would all load without evicting anything."""
        return (
            self.ram_used + sum(m.ram_bytes for m in models) <= self.ram_bytes
            and self.vram_used + sum(m.vram_bytes for m in models) <= self.vram_bytes
        )

    def load_seconds(self, model: ModelSpec) -> float:
        return self._measured_load_s.get(model.name, model.load_seconds)

    def eviction_cost(self, model: str, now: float) -> float:
        """The reload seconds evicting `model` may cost, per byte it frees."""
        entry = self._in_memory[model]
        idle = max(0.0, now - entry.last_used)
        reload = self.load_seconds(entry.model) * math.pow(0.5, idle / self.idle_half_life_s)
        return reload / max(1, entry.model.ram_bytes + entry.model.vram_bytes)

    def plan(self, model: ModelSpec, busy: Collection[str], now: float) -> list[str] | None:
        """The models to evict, cheapest first, so that `model` fits; None if
        even evicting every evictable model would not make room."""
        ram_short = self.ram_used + model.ram_bytes - self.ram_bytes
        vram_short = self.vram_used + model.vram_bytes - self.vram_bytes
        if ram_short <= 0 and vram_short <= 0:
            return []
        candidates = sorted(
            (
                entry
                for entry in self._in_memory.values()
                if entry.phase is Phase.RESIDENT
                and not entry.model.pinned
                and entry.model.name not in busy
                and (
                    (ram_short > 0 and entry.model.ram_bytes > 0)
                    or (vram_short > 0 and entry.model.vram_bytes > 0)
                )
            ),
            key=lambda entry: (self.eviction_cost(entry.model.name, now), entry.model.name),
        )
        chosen: list[ModelSpec] = []
        for entry in candidates:
            if _covers(chosen, ram_short, vram_short):
                break
            chosen.append(entry.model)
        if not _covers(chosen, ram_short, vram_short):
            return None
        # A cheap model taken early may have become unnecessary once a big one
        # was taken: give back the dearest that are not needed.
        for spared in reversed(list(chosen)):
            rest = [m for m in chosen if m is not spared]
            if _covers(rest, ram_short, vram_short):
                chosen = rest
        return [m.name for m in chosen]

    def begin_load(self, model: ModelSpec, now: float) -> None:
        self._in_memory[model.name] = _InMemory(model, Phase.LOADING, now, now)

    def loaded(self, model: str, now: float) -> None:
        entry = self._in_memory[model]
        entry.phase = Phase.RESIDENT
        entry.last_used = now
        self._measured_load_s[model] = max(0.0, now - entry.load_started_at)

    def forget(self, model: str) -> None:
        """The model left memory: evicted, or its load failed."""
        del self._in_memory[model]

    def respecified(self, model: ModelSpec) -> None:
        """The catalog changed the model's entry (pinned or not)."""
        if (entry := self._in_memory.get(model.name)) is not None:
            entry.model = model

    def touch(self, model: str, now: float) -> None:
        self._in_memory[model].last_used = now


def _covers(models: list[ModelSpec], ram_short: int, vram_short: int) -> bool:
    return (
        sum(m.ram_bytes for m in models) >= ram_short
        and sum(m.vram_bytes for m in models) >= vram_short
    )
