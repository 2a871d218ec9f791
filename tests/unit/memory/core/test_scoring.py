"""The scoring math: recency decay, importance, the recall blend and retention."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from noosd.memory.core import scoring
from noosd.memory.core.config import MemoryConfig, ScoreWeights
from noosd.memory.core.kinds import default_importance

HALF_LIFE = 7 * 86400.0
CONFIG = MemoryConfig()


def importance(base: float, repetitions: int = 0, accesses: int = 0, pinned: bool = False) -> float:
    return float(
        scoring.importance(
            base,
            repetitions,
            accesses,
            pinned,
            CONFIG.repetition_boost,
            CONFIG.access_boost,
            CONFIG.repetition_cap,
        )
    )


def test_recency_halves_with_every_half_life() -> None:
    recency = scoring.recency([0, HALF_LIFE, 2 * HALF_LIFE, 3.5 * HALF_LIFE], HALF_LIFE)

    np.testing.assert_allclose(recency, [1.0, 0.5, 0.25, 0.5**3.5])


def test_recency_follows_the_configured_half_life() -> None:
    assert float(scoring.recency(3600, 3600)) == pytest.approx(0.5)
    assert float(scoring.recency(3600, 7200)) == pytest.approx(2**-0.5)


def test_a_clock_that_went_backwards_counts_as_no_idle_time() -> None:
    assert float(scoring.recency(-500, HALF_LIFE)) == 1.0


def test_importance_is_the_base_until_repeated_or_accessed() -> None:
    assert importance(0.3) == pytest.approx(0.3)


def test_a_pinned_memory_has_the_maximum_importance() -> None:
    assert importance(0.05, pinned=True) == 1.0
    assert importance(0.9, repetitions=3, accesses=7, pinned=True) == 1.0


def test_repetition_and_access_raise_importance_without_passing_one() -> None:
    base = default_importance("command", "ls")
    repeated = [importance(base, repetitions=n) for n in range(50)]
    accessed = [importance(base, accesses=n) for n in range(200)]

    for series in (repeated, accessed):
        assert all(later >= earlier for earlier, later in itertools.pairwise(series))
        assert series[-1] < 1.0
    # One repetition closes a fifth of the gap to 1, one access a twentieth.
    assert repeated[1] == pytest.approx(1 - 0.9 * 0.8)
    assert accessed[1] == pytest.approx(1 - 0.9 * 0.95)


def test_repetition_alone_closes_at_most_half_the_gap_to_one() -> None:
    base = default_importance("command", "ls")

    assert importance(base, repetitions=10_000) == pytest.approx(1 - 0.9 * 0.5)
    assert importance(base, repetitions=10_000) < importance(0.7, pinned=True)
    # Access still raises it past that.
    assert importance(base, repetitions=10_000, accesses=5) > 1 - 0.9 * 0.5


def test_the_score_is_the_weighted_sum_of_its_components() -> None:
    weights = ScoreWeights(relevance=0.5, recency=0.3, importance=0.2, time_reference=0.1)

    score = scoring.blend([0.8, -0.2], [0.5, 1.0], [0.1, 1.0], [True, False], weights)

    np.testing.assert_allclose(score, [0.4 + 0.15 + 0.02 + 0.1, -0.1 + 0.3 + 0.2])


def test_relevance_dominates_the_default_blend() -> None:
    weights = ScoreWeights()
    relevant_but_stale = scoring.blend(0.6, 0.0, 0.05, False, weights)
    fresh_important_timely_but_less_relevant = scoring.blend(0.35, 1.0, 1.0, True, weights)

    assert relevant_but_stale > fresh_important_timely_but_less_relevant


def test_retention_is_the_mean_of_recency_and_importance() -> None:
    np.testing.assert_allclose(scoring.retention([1.0, 0.2], [0.1, 0.6]), [0.55, 0.4])


def test_a_command_unused_for_about_23_days_falls_below_the_prune_threshold() -> None:
    base = default_importance("command", "ls")

    def retention(days: float) -> float:
        return float(scoring.retention(scoring.recency(days * 86400, HALF_LIFE), base))

    assert retention(22) > CONFIG.prune_threshold > retention(24)


def test_a_memory_twice_as_important_as_the_threshold_never_decays_below_it() -> None:
    century = scoring.recency(100 * 365 * 86400, HALF_LIFE)

    assert float(scoring.retention(century, 2 * CONFIG.prune_threshold)) >= CONFIG.prune_threshold
