"""How memories are scored: the components, the recall blend, and retention.

For a memory m, a query q and the time now:

    relevance  = cos(q, m)                                           in [-1, 1]
    recency    = 0.5 ** (max(0, now - m.last_accessed) / half_life)     in (0, 1]
    importance = 1                                                   if m is pinned
               = 1 - (1 - base) * max(1 - repetition_cap, (1 - repetition_boost) ** repetitions)
                            * (1 - access_boost) ** access_count     otherwise, in [base, 1)
    timely     = 1 if q asks when and m refers to a time, else 0     (see temporal)
    score      = w_rel * relevance + w_rec * recency + w_imp * importance + w_time * timely

`base` is the importance hint given to `remember`, or the kind's default
(`kinds.default_importance`); `repetitions` counts the near-duplicates merged
into the memory. Each repetition or access closes a fixed fraction of the gap
to 1, so importance rises with use but never passes 1; repetition alone closes
at most `repetition_cap` of it, so that `ls` typed ten thousand times does not
become as important as what the user pinned.

Relevance dominates (w_rel 1 against 0.03, 0.1 and 0.08 by default): the other
components add at most 0.21, so they reorder memories that are about equally
relevant but never lift an unrelated memory over a relevant one, however
recent or important. This is Generative Agents' blend with the components kept
in fixed ranges rather than min-max normalised per recall (so that scores from
different tiers and recalls compare) and with the weights set by LoCoMo and
the 1M-event stream (tests/bench): an equal-weights blend let fresh,
repeated commands crowd out a two-month-old fact that answered the question.

Retention is the query-free part, the score a memory keeps when nobody asks
about it: consolidation forgets what falls below the prune threshold and moves
what falls below the cold threshold to the cold tier:

    retention  = (recency + importance) / 2

So a memory of importance i is never pruned for age alone when i >= 2 * threshold,
and otherwise is pruned once its recency drops below 2 * threshold - i: with the
defaults (one week, 0.1) a command (0.1) unused for 23 days, a file event (0.05)
after 19. Every function takes scalars or arrays and returns float64 arrays.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noosd.memory.core.config import ScoreWeights

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
    repetition_cap: float,
) -> FloatArray:
    """The effective importance: the base raised by repetition and access, 1 if pinned."""
    repeated = np.maximum(
        1.0 - repetition_cap,
        (1.0 - repetition_boost) ** np.asarray(repetitions, dtype=np.float64),
    )
    gap = (
        (1.0 - np.asarray(base, dtype=np.float64))
        * repeated
        * (1.0 - access_boost) ** np.asarray(access_count, dtype=np.float64)
    )
    return np.asarray(np.where(np.asarray(pinned, dtype=bool), 1.0, 1.0 - gap), dtype=np.float64)


def blend(
    relevance: npt.ArrayLike,
    recency: npt.ArrayLike,
    importance: npt.ArrayLike,
    timely: npt.ArrayLike,
    weights: ScoreWeights,
) -> FloatArray:
    """A recall's score: the weighted sum of the components."""
    return np.asarray(
        weights.relevance * np.asarray(relevance, dtype=np.float64)
        + weights.recency * np.asarray(recency, dtype=np.float64)
        + weights.importance * np.asarray(importance, dtype=np.float64)
        + weights.time_reference * np.asarray(timely, dtype=np.float64),
        dtype=np.float64,
    )


def retention(recency: npt.ArrayLike, importance: npt.ArrayLike) -> FloatArray:
    """The query-free score that decides pruning and tiers: (recency + importance) / 2."""
    return np.asarray(
        (np.asarray(recency, dtype=np.float64) + np.asarray(importance, dtype=np.float64)) / 2,
        dtype=np.float64,
    )
