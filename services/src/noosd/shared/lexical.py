"""Lexical evidence, shared by Index1 (chunks of files) and Memory1 (memories):
the words of a query as FTS5 strings, and the weights of those words.

Each word of the query becomes a quoted FTS5 string, so that nothing a user
types is read as FTS5 syntax (AND, NEAR, *, column filters); an identifier
such as `parse_config` becomes the phrase "parse config" (unicode61 splits at
the underscore in the text too), which finds it exactly. Both services index
text with the same tokenizer (`FTS_TOKENIZE`: Porter-stemmed unicode61).

Index1 ranks chunks by the sum of the IDFs (BM25's) of the query words they
contain: BM25 without term frequency and length (k1 = 0), for two measured
reasons. FTS5's own bm25() costs about 1 us per matching chunk: 18-25 ms for
a four-word query at 100,000 chunks, twice the whole search's budget. And a
word in more than `common_limit` of the caller's chunks is left out (a
posting list is read only up to `read_limit`, so a common word costs a
bounded read): its IDF is small, the semantic ranking weighs it anyway, and
reading it is what costs. Whose chunks count is `noosd.index.search`'s
choice: the caller's own. Chunks are a few lines each, so a word's frequency
within one and its length change little.

Memory1 ranks a user's memories by FTS5's bm25() (its defaults, k1 = 1.2,
b = 0.75) over the words that are not common in that user's memories by the
same `common_limit`, rarest first up to a bound on the rows bm25() scores
(see `noosd.memory.storage.database`).

Function words are left out too: they match most documents and name nothing.
"""

from __future__ import annotations

import math
import re

# How both services' FTS5 tables split and stem text.
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"
# The most words of a query searched for.
MAX_TERMS = 16
# A word is common, and left out, when more than this share of the documents
# (and at least MIN_COMMON_POSTINGS of them) contain it.
COMMON_SHARE = 0.01
MIN_COMMON_POSTINGS = 1000
_WORD = re.compile(r"\w+")
_FUNCTION_WORDS = frozenset(
    """
    a an the this that these those some any all no not
    with from about of on in at to for by into over under as than then
    i me my we our you your it its he she they them his her their
    and or but if so
    is are was were be been am do does did have has had can could will would should
    what which who whom when where why how
    """.split()  # noqa: SIM905 - a list literal of 60 words would take 60 lines
)


def fts_terms(text: str) -> list[str]:
    """The query's words as FTS5 strings, one query each, function words left out."""
    words = dict.fromkeys(word.lower() for word in _WORD.findall(text))
    return [f'"{word}"' for word in words if word not in _FUNCTION_WORDS][:MAX_TERMS]


def common_limit(chunks: int) -> int:
    """The most documents (chunks, memories) a word may be in and still count,
    among `chunks` of them."""
    return max(MIN_COMMON_POSTINGS, int(chunks * COMMON_SHARE))


def read_limit(chunks: int) -> int:
    """The longest posting list read, in an index of `chunks` (every user's):
    twice the most a word may be in for anyone (`common_limit` of them all),
    so that a word is left out unread, for a cost bound, only when other
    users' chunks hold it more than `common_limit(chunks)` times."""
    return 2 * common_limit(chunks)


def idf(containing: int, chunks: int) -> float:
    """BM25's inverse document frequency of a word that `containing` of `chunks` contain."""
    return math.log(1.0 + (chunks - containing + 0.5) / (containing + 0.5))
