"""Which model the next job will ask for, learnt from the jobs so far.

Two frequency tables: by the hour of the day (local time), what models are
asked for then; and by the model of the job before, what comes next (a
first-order Markov chain). A prediction blends the two rows that apply,

    score(m) = w * P(m | previous model) + (1 - w) * P(m | hour)

using only a row of at least `min_evidence` observations, and none at all
when neither has. Each row forgets geometrically (its counts are multiplied by
`decay` at each new observation in it), so that a changed habit wins within
tens of jobs. Nothing here loads anything: the scheduler preloads a prediction
only into free memory.

A prediction is scored at the next observation: a hit when it named that
job's model. Only predictions actually made count, the latest one standing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

HOURS = 24
SECONDS_PER_HOUR = 3600


@dataclass
class _Row:
    """What followed one condition (an hour, a previous model): decayed counts by model."""

    counts: dict[str, float] = field(default_factory=dict)
    observations: int = 0

    def count(self, model: str, decay: float) -> None:
        for name in self.counts:
            self.counts[name] *= decay
        self.counts[model] = self.counts.get(model, 0.0) + 1.0
        self.observations += 1

    def shares(self) -> dict[str, float]:
        total = sum(self.counts.values())
        return {name: count / total for name, count in self.counts.items()}


class ModelPredictor:
    def __init__(
        self,
        utc_offset_s: float = 0.0,
        sequence_weight: float = 0.6,
        min_evidence: int = 2,
        decay: float = 0.95,
    ) -> None:
        if not 0 <= sequence_weight <= 1 or not 0 < decay <= 1 or min_evidence <= 0:
            raise ValueError("need 0 <= sequence_weight <= 1, 0 < decay <= 1, min_evidence > 0")
        self.utc_offset_s = utc_offset_s
        self.sequence_weight = sequence_weight
        self.min_evidence = min_evidence
        self.decay = decay
        self._by_hour: defaultdict[int, _Row] = defaultdict(_Row)
        self._by_previous: defaultdict[str, _Row] = defaultdict(_Row)
        self._previous: str | None = None
        self._standing: str | None = None
        self.predictions = 0
        self.hits = 0

    def hour(self, now: float) -> int:
        return int((now + self.utc_offset_s) // SECONDS_PER_HOUR) % HOURS

    def observe(self, model: str, now: float) -> None:
        """A job asked for `model` at `now`; scores the standing prediction."""
        if self._standing is not None:
            self.predictions += 1
            self.hits += self._standing == model
            self._standing = None
        self._by_hour[self.hour(now)].count(model, self.decay)
        if self._previous is not None:
            self._by_previous[self._previous].count(model, self.decay)
        self._previous = model

    def predict(self, now: float) -> str | None:
        """The model most likely asked for next; it stands until the next observation."""
        after = self._by_previous.get(self._previous, _Row()) if self._previous else _Row()
        rows = [
            (row, weight)
            for row, weight in (
                (after, self.sequence_weight),
                (self._by_hour.get(self.hour(now), _Row()), 1 - self.sequence_weight),
            )
            if row.observations >= self.min_evidence
        ]
        # With one row left, it decides alone, whatever its weight.
        total_weight = sum(weight for _, weight in rows)
        scores: dict[str, float] = {}
        for row, weight in rows:
            share = weight / total_weight if total_weight else 1 / len(rows)
            for name, part in row.shares().items():
                scores[name] = scores.get(name, 0.0) + share * part
        self._standing = min(scores, key=lambda name: (-scores[name], name)) if scores else None
        return self._standing

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.predictions if self.predictions else None

    def learnt(self) -> dict[str, Any]:
        """What it learnt, as JSON-ready values: the service keeps it across restarts."""
        return {
            "by_hour": {str(h): asdict(row) for h, row in self._by_hour.items()},
            "by_previous": {m: asdict(row) for m, row in self._by_previous.items()},
            "previous": self._previous,
            "predictions": self.predictions,
            "hits": self.hits,
        }

    def relearn(self, learnt: Mapping[str, Any]) -> None:
        """Take up what `learnt` gave (of a predictor with the same parameters)."""
        self._by_hour.update({int(h): _Row(**row) for h, row in learnt["by_hour"].items()})
        self._by_previous.update({m: _Row(**row) for m, row in learnt["by_previous"].items()})
        self._previous = learnt["previous"]
        self.predictions = int(learnt["predictions"])
        self.hits = int(learnt["hits"])
