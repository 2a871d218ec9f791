"""Reciprocal-rank fusion of the semantic and lexical rankings."""

from __future__ import annotations

import pytest

from noosd.shared.ranking import (
    RRF_K,
    Fused,
    competition_ranks,
    reciprocal_rank,
    reciprocal_rank_fusion,
)


def keys(fused: list[Fused[str]]) -> list[str]:
    return [candidate.key for candidate in fused]


def test_the_score_is_the_sum_of_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion(["a", "b", "c"], ["b", "a", "d"])

    by_key = {candidate.key: candidate for candidate in fused}
    assert by_key["a"] == Fused("a", 1 / (RRF_K + 1) + 1 / (RRF_K + 2), 1, 2)
    assert by_key["d"] == Fused("d", 1 / (RRF_K + 3), None, 3)
    assert by_key["c"].lexical_rank is None


def test_agreement_between_the_rankings_beats_one_ranking_alone() -> None:
    # "both" is only third in each ranking, yet outranks each one's favourite.
    semantic = ["meaning", "x1", "both"]
    lexical = ["words", "x2", "both"]

    assert keys(reciprocal_rank_fusion(semantic, lexical))[0] == "both"


def test_ties_keep_the_order_of_first_appearance_semantic_first() -> None:
    assert keys(reciprocal_rank_fusion(["a", "b"], ["c", "d"])) == ["a", "c", "b", "d"]


def test_weights_tilt_the_fusion() -> None:
    semantic, lexical = ["s1", "s2"], ["l1", "l2"]

    assert keys(reciprocal_rank_fusion(semantic, lexical, lexical_weight=2.0))[:2] == [
        "l1",
        "l2",
    ]
    only_semantic = reciprocal_rank_fusion(semantic, lexical, lexical_weight=0.0)
    assert keys(only_semantic) == ["s1", "s2", "l1", "l2"]
    assert only_semantic[-1].score == 0.0


def test_a_key_repeated_in_a_ranking_counts_at_its_best_rank() -> None:
    fused = reciprocal_rank_fusion(["a", "b", "a"], [])

    assert [(candidate.key, candidate.semantic_rank) for candidate in fused] == [
        ("a", 1),
        ("b", 2),
    ]


def test_empty_rankings_fuse_to_nothing() -> None:
    assert reciprocal_rank_fusion([], []) == []


@pytest.mark.parametrize(
    "arguments",
    [{"k": 0.0}, {"k": float("inf")}, {"semantic_weight": -1.0}, {"lexical_weight": float("nan")}],
)
def test_a_bad_constant_or_weight_is_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="fusion"):
        reciprocal_rank_fusion(["a"], ["a"], **arguments)


def test_equal_scores_share_the_best_rank_among_them() -> None:
    assert competition_ranks([0.5, 0.9, 0.5, 0.1]).tolist() == [2, 1, 2, 4]
    assert competition_ranks([]).tolist() == []


def test_a_reciprocal_rank_is_one_over_k_plus_the_rank_and_nothing_when_absent() -> None:
    assert reciprocal_rank([1, 2]).tolist() == [1 / (RRF_K + 1), 1 / (RRF_K + 2)]
    assert reciprocal_rank(float("inf")) == 0.0
