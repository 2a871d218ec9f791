"""A recall's relevance from the cosine and the words' BM25 (fusion)."""

from __future__ import annotations

import pytest

from noosd.memory.core import fusion
from noosd.shared.ranking import RRF_K

# Five candidates by cosine; the words found 3 (best), then 5.
COSINES = {1: 0.62, 2: 0.58, 3: 0.31, 4: 0.30, 5: 0.12}
LEXICAL = [(3, 7.5), (5, 2.5)]


def order(relevance: dict[int, float]) -> list[int]:
    return sorted(relevance, key=lambda memory_id: (-relevance[memory_id], memory_id))


def test_none_is_the_cosine_alone() -> None:
    assert fusion.relevance(COSINES, LEXICAL, fusion.NONE) == COSINES


def test_rrf_lifts_what_both_rankings_place_high_over_the_semantic_favourite() -> None:
    relevance = fusion.relevance(COSINES, LEXICAL, fusion.RRF)

    # 3: third by cosine and first by words, against 1: first by cosine alone.
    assert order(relevance) == [3, 5, 1, 2, 4]
    assert relevance[3] == pytest.approx((1 / (RRF_K + 3) + 1 / (RRF_K + 1)) * (RRF_K + 1) / 2)
    assert relevance[1] == pytest.approx(0.5)


def test_rrf_is_one_for_the_first_of_both_rankings_and_in_zero_one() -> None:
    relevance = fusion.relevance(COSINES, [(1, 3.0)], fusion.RRF)

    assert relevance[1] == pytest.approx(1.0)
    assert all(0 < value <= 1 for value in relevance.values())


def test_rrf_ranks_equal_scores_alike() -> None:
    """Two memories that say the same thing get the same relevance."""
    relevance = fusion.relevance({1: 0.5, 2: 0.5, 3: 0.2}, [(1, 4.0), (2, 4.0)], fusion.RRF)

    assert relevance[1] == relevance[2] > relevance[3]


def test_rrf_without_lexical_hits_keeps_the_cosine_order() -> None:
    assert order(fusion.relevance(COSINES, [], fusion.RRF)) == [1, 2, 3, 4, 5]


def test_sum_adds_the_bm25_score_over_the_recalls_best() -> None:
    relevance = fusion.relevance(COSINES, LEXICAL, fusion.SUM)

    assert relevance == pytest.approx(
        {1: 0.62, 2: 0.58, 3: 0.31 + 1.0, 4: 0.30, 5: 0.12 + 2.5 / 7.5}
    )
    assert fusion.relevance(COSINES, [], fusion.SUM) == COSINES


def test_an_unknown_fusion_is_refused() -> None:
    with pytest.raises(ValueError, match="fusion must be one of"):
        fusion.relevance(COSINES, LEXICAL, "max")
