"""A recall's relevance: the semantic and the lexical evidence, fused.

A recall finds candidates two ways: the memories whose embedding is nearest
the query's (cosine), and those that hold the query's rarer words, ranked by
BM25 over the user's memories (`noosd.shared.lexical`). Embeddings blur
names, numbers and rare words, which are what people ask their memory about
("what did Caroline say about the adoption agency?"); words miss
paraphrases. Every candidate has a cosine (a lexical one's is computed from
its stored vector); only those the lexical stage found have a BM25 score.

The relevance that scoring then blends with recency, importance and time
(`scoring.blend`) is, by `MemoryConfig.fusion`:

- SUM (the default): a normalised score sum, the cosine plus the BM25 score
  divided by the best BM25 score of the recall (in [0, 1]; 0 for a candidate
  without the words). The cosine is already bounded and comparable between
  recalls, and the bonuses' weights were set against it, so only BM25, which
  grows with the words a query has and with the corpus, is normalised. A
  recall whose words match nothing ranks as by the cosine alone.
- RRF: reciprocal-rank fusion (Cormack, Clarke and Büttcher, 2009) with the
  paper's k = 60 (`noosd.shared.ranking`, as Index1 fuses), of the
  candidates ranked by cosine and by BM25 (equal scores share a rank:
  `competition_ranks`), scaled by (k + 1) / 2 so that first in both rankings
  is 1, as a cosine's best. Ranks only: neither score's scale matters, but
  neither does how far apart the scores are, and the gap between two ranks
  (about 0.008 near the top) is smaller than scoring's bonuses (up to 0.21),
  which then reorder more than near-ties.
- NONE: the cosine alone (the store before hybrid recall: a baseline).

No constant here was fitted to data: k = 60 is the paper's, and the two
terms of each sum weigh the same. On the LoCoMo dev set (tests/bench
memory_locomo) the sum found more answering turns than RRF; docs/memory.md
has the figures. A weight of 0.5 on the words scored about the same there
and is not used: it would be a constant fitted to that set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from noosd.memory.core.config import FUSIONS, NONE, RRF, SUM
from noosd.shared.ranking import RRF_K, competition_ranks, reciprocal_rank

__all__ = ["FUSIONS", "NONE", "RRF", "SUM", "relevance"]


def relevance(
    cosines: Mapping[int, float], lexical: Sequence[tuple[int, float]], fusion: str
) -> dict[int, float]:
    """The relevance of every candidate, by id, from its cosine (`cosines` holds
    every candidate) and the lexical ranking (id and BM25 score, best first:
    a subset of the candidates)."""
    if fusion == NONE:
        return dict(cosines)
    if fusion == SUM:
        best = max((score for _, score in lexical), default=0.0)
        words = {memory_id: score / best for memory_id, score in lexical} if best > 0 else {}
        return {
            memory_id: cosine + words.get(memory_id, 0.0) for memory_id, cosine in cosines.items()
        }
    if fusion == RRF:
        ids = list(cosines)
        semantic = competition_ranks([cosines[memory_id] for memory_id in ids])
        lexical_ranks = dict(
            zip(
                [memory_id for memory_id, _ in lexical],
                competition_ranks([score for _, score in lexical]).tolist(),
                strict=True,
            )
        )
        # A candidate the words did not find has no lexical term.
        word_ranks = np.array([lexical_ranks.get(memory_id, np.inf) for memory_id in ids])
        fused = (reciprocal_rank(semantic) + reciprocal_rank(word_ranks)) * (RRF_K + 1) / 2
        return dict(zip(ids, fused.tolist(), strict=True))
    raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
