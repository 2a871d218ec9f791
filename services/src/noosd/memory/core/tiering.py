"""Which tier each memory belongs in: pure functions of scores and capacities.

Promotion is on access: a memory recalled or read moves to the hot tier (the
store does that). Demotion is on capacity, age and score:

- whenever a tier holds more than its capacity, its memories of lowest
  retention move one tier down, until it holds its capacity minus a margin
  (10% of hot, 1% of warm, at least one), so that demotions, and the chromadb
  writes they cause, come in batches rather than one per new memory;
- at consolidation, a hot memory idle for more than a half-life (recency < 0.5)
  leaves the hot tier, and a memory whose retention is below the cold
  threshold goes cold; the rest are warm, up to the warm capacity by retention.
  A cold memory whose retention rose (a merged repetition) comes back to warm.

Tiers are coded as small integers in arrays: HOT, WARM, COLD below.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from noosd.memory.core.config import MemoryConfig
from noosd.memory.core.model import Tier

HOT, WARM, COLD = 0, 1, 2
TIERS: tuple[Tier, Tier, Tier] = (Tier.HOT, Tier.WARM, Tier.COLD)
# A hot memory idle for longer than a half-life is no longer hot.
HOT_MIN_RECENCY = 0.5

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def hot_margin(capacity: int) -> int:
    return max(1, capacity // 10)


def warm_margin(capacity: int) -> int:
    return max(1, capacity // 100)


def overflow(retention: FloatArray, capacity: int, margin: int) -> IntArray:
    """The positions to demote from a tier holding len(retention) memories.

    None while the tier is within capacity; once over, the lowest retention
    first, leaving capacity - margin.
    """
    count = len(retention)
    if count <= capacity:
        return np.empty(0, dtype=np.int64)
    keep = max(capacity - margin, 0)
    return np.argsort(retention, kind="stable")[: count - keep].astype(np.int64)


def _best(mask: npt.NDArray[np.bool_], retention: FloatArray, capacity: int) -> IntArray:
    """The positions set in mask, at most `capacity` of them, highest retention first."""
    positions = np.flatnonzero(mask)
    if len(positions) > capacity:
        order = np.argsort(-retention[positions], kind="stable")
        positions = positions[order[:capacity]]
    return positions.astype(np.int64)


def consolidated_tiers(
    tiers: IntArray, recency: FloatArray, retention: FloatArray, config: MemoryConfig
) -> IntArray:
    """The tier of each of a user's memories after consolidation.

    Never promotes to hot: only an access does that.
    """
    target = np.full(len(tiers), COLD, dtype=np.int64)
    hot = _best((tiers == HOT) & (recency >= HOT_MIN_RECENCY), retention, config.hot_capacity)
    target[hot] = HOT
    warm_candidates = (target != HOT) & (retention >= config.cold_threshold)
    target[_best(warm_candidates, retention, config.warm_capacity)] = WARM
    return target
