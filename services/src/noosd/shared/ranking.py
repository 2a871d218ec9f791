"""Fusing the semantic and the lexical ranking of chunks into one.

A search ranks candidate chunks twice: by the cosine between their embedding
and the query's (semantic), and by a term score over their text (lexical: the
summed BM25 IDF of the query words a chunk holds, read from FTS5's posting
lists, see `lexical`). The two scores do not compare: a cosine lies in [-1, 1]
and crowds near its top for a short query, while the term score is unbounded
and depends on the corpus.
Min-max normalising them per query makes the blend swing with whatever the
other candidates happen to be, so the fusion uses ranks only: reciprocal-rank
fusion (Cormack, Clarke and Büttcher, SIGIR 2009),

    score(c) = w_sem / (k + rank_sem(c)) + w_lex / (k + rank_lex(c))

with 1-based ranks, a term left out where a ranking lacks c, and k = 60 (the
paper's constant: it flattens the head, so that one ranking's first place does
not outweigh agreement between both). A chunk found by both rankings beats one
found by one alone unless that one places it far higher; the weights tilt the
fusion (a query of code identifiers may trust the lexical ranking more).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

K = TypeVar("K", bound=Hashable)

RRF_K = 60.0


@dataclass(frozen=True)
class Fused(Generic[K]):
    """A candidate's fused score, and its 1-based rank in each ranking (None: absent)."""

    key: K
    score: float
    semantic_rank: int | None
    lexical_rank: int | None


def reciprocal_rank_fusion(
    semantic: Sequence[K],
    lexical: Sequence[K],
    k: float = RRF_K,
    semantic_weight: float = 1.0,
    lexical_weight: float = 1.0,
) -> list[Fused[K]]:
    """The candidates of both rankings (best first each), best first by fused score.

    A key repeated within a ranking counts at its best rank. Ties keep the
    order of first appearance, semantic ranking first.
    """
    if not (math.isfinite(k) and k > 0):
        raise ValueError(f"the fusion constant k must be finite and positive, not {k}")
    weights = (semantic_weight, lexical_weight)
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(f"fusion weights must be finite and >= 0, not {weights}")
    semantic_ranks = _ranks(semantic)
    lexical_ranks = _ranks(lexical)
    fused = [
        Fused(
            key,
            _term(semantic_ranks.get(key), k, semantic_weight)
            + _term(lexical_ranks.get(key), k, lexical_weight),
            semantic_ranks.get(key),
            lexical_ranks.get(key),
        )
        for key in dict.fromkeys([*semantic, *lexical])
    ]
    return sorted(fused, key=lambda candidate: -candidate.score)


def _ranks(ranking: Sequence[K]) -> dict[K, int]:
    ranks: dict[K, int] = {}
    for rank, key in enumerate(ranking, start=1):
        ranks.setdefault(key, rank)
    return ranks


def _term(rank: int | None, k: float, weight: float) -> float:
    return 0.0 if rank is None else weight * float(reciprocal_rank(rank, k))


def reciprocal_rank(rank: npt.ArrayLike, k: float = RRF_K) -> npt.NDArray[np.float64]:
    """A ranking's term of the fused score for 1-based ranks: 1 / (k + rank)."""
    return np.asarray(1.0 / (k + np.asarray(rank, dtype=np.float64)), dtype=np.float64)


def competition_ranks(scores: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The 1-based rank of each score, higher first, equal scores sharing the
    best rank among them ("1224"): two memories that say the same thing are
    ranked alike, whichever a sort puts first."""
    values = np.asarray(scores, dtype=np.float64)
    ordered = np.sort(-values)
    return np.asarray(np.searchsorted(ordered, -values, side="left") + 1, dtype=np.int64)
