"""How memories are scored: the three components, the recall blend, and retention.

For a memory m, a query q and the time now (Generative Agents' blend, with
components kept in fixed ranges rather than min-max normalised per recall, so
that scores from different tiers and recalls compare):

    relevance  = cos(q, m)                                        in [-1, 1]
    recency    = 0.5 ** (max(0, now - m.last_accessed) / half_life)  in (0, 1]
    importance = 1                                                if m is pinned
               = 1 - (1 - base) * (1 - repetition_boost) ** repetitions
                            * (1 - access_boost) ** access_count  otherwise, in [base, 1)
    score      = w_rel * relevance + w_rec * recency + w_imp * importance

`base` is the importance hint given to `remember`, or the kind's default
(`kinds.DEFAULT_IMPORTANCE`); `repetitions` counts the near-duplicates merged
into the memory. Each repetition or access closes a fixed fraction of the gap
to 1, so importance rises with use but never passes 1.

Retention is the query-free part of the blend, the score a memory keeps when
nobody asks about it: consolidation forgets what falls below the prune
threshold and moves what falls below the cold threshold to the cold tier:

    retention  = (recency + importance) / 2

So a memory of importance i is never pruned for age alone when i >= 2 * threshold,
and otherwise is pruned once its recency drops below 2 * threshold - i: with the
defaults (one week, 0.1) a command (0.1) unused for 23 days, a file event (0.05)
after 19. Every function takes scalars or arrays and returns float64 arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noosd.memory.config import ScoreWeights

FloatArray = npt.NDArray[np.float64]


def recency(idle_s: npt.ArrayLike, half_life_s: float) -> FloatArray:
    """0.5 ** (idle / half-life); a clock that went backwards counts as no idle time."""
    idle = np.maximum(np.asarray(idle_s, dtype=np.float64), 0.0)
    return np.asarray(np.exp2(-idle / half_life_s), dtype=np.float64)


def importance(
    base: npt.ArrayLike,
    repetitions: npt.ArrayLike,
    access_count: npt.ArrayLike,
    pinned: npt.ArrayLike,
    repetition_boost: float,
    access_boost: float,
) -> FloatArray:
    """The effective importance: the base raised by repetition and access, 1 if pinned."""
    gap = (
        (1.0 - np.asarray(base, dtype=np.float64))
        * (1.0 - repetition_boost) ** np.asarray(repetitions, dtype=np.float64)
        * (1.0 - access_boost) ** np.asarray(access_count, dtype=np.float64)
    )
    return np.asarray(np.where(np.asarray(pinned, dtype=bool), 1.0, 1.0 - gap), dtype=np.float64)


def blend(
    relevance: npt.ArrayLike,
    recency: npt.ArrayLike,
    importance: npt.ArrayLike,
    weights: ScoreWeights,
) -> FloatArray:
    """A recall's score: the weighted sum of the three components."""
    return np.asarray(
        weights.relevance * np.asarray(relevance, dtype=np.float64)
        + weights.recency * np.asarray(recency, dtype=np.float64)
        + weights.importance * np.asarray(importance, dtype=np.float64),
        dtype=np.float64,
    )


def retention(recency: npt.ArrayLike, importance: npt.ArrayLike) -> FloatArray:
    """The query-free score that decides pruning and tiers: (recency + importance) / 2."""
    return np.asarray(
        (np.asarray(recency, dtype=np.float64) + np.asarray(importance, dtype=np.float64)) / 2,
        dtype=np.float64,
    )
