"""Tier placement: demotion over capacity, and the tiers consolidation chooses."""

from __future__ import annotations

import numpy as np

from noosd.memory.core.config import MemoryConfig
from noosd.memory.core.tiering import COLD, HOT, WARM, consolidated_tiers, hot_margin, overflow


def test_a_tier_within_capacity_demotes_nothing() -> None:
    assert overflow(np.array([0.1, 0.9, 0.5]), capacity=3, margin=1).size == 0


def test_a_tier_over_capacity_demotes_its_lowest_retention_down_to_capacity_minus_margin() -> None:
    retention = np.array([0.9, 0.1, 0.5, 0.3, 0.7])

    demoted = overflow(retention, capacity=4, margin=1)

    assert sorted(demoted.tolist()) == [1, 3]


def test_the_margin_is_a_tenth_of_the_hot_tier_and_at_least_one() -> None:
    assert hot_margin(1000) == 100
    assert hot_margin(3) == 1


def tiers(
    current: list[int],
    recency: list[float],
    retention: list[float],
    hot_capacity: int = 1000,
    warm_capacity: int = 1000,
) -> list[int]:
    placed = consolidated_tiers(
        np.array(current, dtype=np.int64),
        np.array(recency),
        np.array(retention),
        MemoryConfig(hot_capacity=hot_capacity, warm_capacity=warm_capacity),
    )
    return [int(tier) for tier in placed]


def test_a_hot_memory_idle_for_more_than_a_half_life_leaves_the_hot_tier() -> None:
    assert tiers([HOT, HOT], recency=[0.9, 0.4], retention=[0.6, 0.5]) == [HOT, WARM]


def test_a_memory_of_low_retention_goes_cold() -> None:
    assert tiers([HOT, WARM, WARM], recency=[0.3, 0.1, 0.1], retention=[0.2, 0.2, 0.3]) == [
        COLD,
        COLD,
        WARM,
    ]


def test_the_tiers_keep_to_their_capacities_by_retention() -> None:
    placed = tiers(
        [HOT, HOT, HOT, WARM, WARM, WARM],
        recency=[0.9, 0.8, 0.7, 0.1, 0.1, 0.1],
        retention=[0.9, 0.6, 0.8, 0.5, 0.3, 0.4],
        hot_capacity=2,
        warm_capacity=2,
    )

    # Hot keeps its best two; warm takes the best two of the rest (0.6, 0.5).
    assert placed == [HOT, WARM, HOT, WARM, COLD, COLD]


def test_a_cold_memory_whose_retention_rose_comes_back_warm() -> None:
    assert tiers([COLD], recency=[0.01], retention=[0.6]) == [WARM]


def test_consolidation_never_promotes_to_hot() -> None:
    assert tiers([WARM, COLD], recency=[1.0, 1.0], retention=[1.0, 1.0]) == [WARM, WARM]
