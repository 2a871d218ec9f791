"""One search: candidates by meaning and by words, fused, one hit per file, and
only the files the caller could open.

1. The query's filters (ParsedQuery: mtime range, languages, places, and the
   media not hidden) select files in SQLite, by indexed columns, and so a
   mask over the RAM matrix's rows.
2. Semantic ranking: when the mask keeps at most `exact_max_rows` chunks,
   an exact product over those rows (the filtered case: ~1 ms for 5,000);
   otherwise chromadb's HNSW index, asked for enough neighbours that, at the
   filter's selectivity, about OVERFETCH times the candidates wanted pass it,
   re-scored exactly from RAM, with the few chunks chromadb does not have yet
   beside them. When too few pass (or chromadb is away), the exact product
   over the mask.
3. Lexical ranking: the chunks of the same files that contain the query's
   rarer words, by the sum of their IDFs, from FTS5's posting lists
   (`noosd.shared.lexical`). A word's IDF, and whether it is too common to count, are the
   caller's: counted among the chunks of the files the caller owns (every
   chunk for root), so that other users' files, which the caller may not be
   able to read, never change how the caller's hits order among themselves.
4. Both rankings are cut to the chunks of files the caller may open, checked
   in rank order, by stat(2) now (`access`, once per file and directory in a
   search), before they are fused: a caller's ranks and scores are those
   among what they may read, and say nothing of other users' files.
5. Reciprocal-rank fusion of the two (`noosd.shared.ranking`); each file is represented by
   its best chunk. When fewer than `limit` files come out, the search asks
   for four times as many candidates and goes on.

Why the files the caller owns, and not all those it may read: which files a
caller may read is decided by stat(2) of the file and every directory above
it, at search time; word weights over them would need that check for every
file in the query's posting lists (up to 2% of the chunks per word, 16
words) and, for the chunk count, for every file in the index: the search's
whole budget on a large index. Owners are known without a system call (an
array in RAM by file id, `FileOwners`: one gather per word), and the chunks a
caller owns are ones it chose to put there. Files of others that the caller
may read are still found and ranked, by the caller's weights; a caller who
owns no chunk weighs every word alike (log 2), and its lexical ranking is by
how many of the query's words a chunk holds.

What other users' chunks still decide: a posting list is read only up to
`read_limit` (twice `common_limit` of every user's chunks together), so that
a common word costs a bounded read. A word the caller counts is one it holds
at most `common_limit` times, so it is left out unread only when other users
hold it more than `common_limit(all chunks)` times (1,000, or 1% of the
index when that is more). docs/security.md says what that tells a caller.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

from noosd.index.core.model import SearchHit
from noosd.index.core.owners import FileOwners, IdArray
from noosd.index.core.snippets import Snippet, snippet
from noosd.index.storage.access import ROOT_UID, AccessCheck, Caller
from noosd.index.storage.chroma import ChromaIndex
from noosd.index.storage.database import FileFilter, FileRow, IndexDatabase
from noosd.shared.lexical import common_limit, fts_terms, idf, read_limit
from noosd.shared.matrix import Mask, Vector, VectorMatrix
from noosd.shared.outbox import ChromaOutbox
from noosd.shared.ranking import Fused, reciprocal_rank_fusion

# Candidates asked of each ranking per hit wanted (a file has several chunks
# that rank together, and some files are closed to the caller), plus a few.
CANDIDATES_PER_HIT = 5
CANDIDATE_EXTRA = 20
# chromadb is asked for this many times the neighbours the filter should let
# through, and never for more than MAX_APPROXIMATE_K: a filter that would
# need more is selective enough for the exact product.
OVERFETCH = 2.0
MAX_APPROXIMATE_K = 1000
# Files read from SQLite at a time when a query is of filters alone.
NEWEST_BATCH = 64


@dataclass(frozen=True)
class _Candidate:
    """A file's best chunk in the fused ranking."""

    file_id: int
    chunk_id: int
    score: float


class Searcher:
    """Runs searches over the database, the RAM matrix and chromadb; used under
    the engine's lock."""

    def __init__(
        self,
        db: IndexDatabase,
        vectors: VectorMatrix,
        owners: FileOwners,
        outbox: ChromaOutbox[ChromaIndex],
        unsynced: set[int],
        exact_max_rows: int,
    ) -> None:
        self._db = db
        self._vectors = vectors
        self._owners = owners
        self._outbox = outbox
        # The engine's: the chunks not yet in chromadb.
        self._unsynced = unsynced
        self._exact_max_rows = exact_max_rows

    def by_meaning(
        self, text: str, query: Vector, where: FileFilter, limit: int, caller: Caller
    ) -> list[SearchHit]:
        """The best `limit` files for a query's text (and its vector) that `where`
        lets through and the caller may open, ranked among those alone."""
        mask = (
            None
            if where.is_everything
            else self._vectors.rows_in_groups(self._db.matching_files(where))
        )
        allowed = len(self._vectors) if mask is None else int(mask.sum())
        terms = fts_terms(text)
        readable = _ReadableFiles(self._db, self._vectors, AccessCheck(caller))
        k = limit * CANDIDATES_PER_HIT + CANDIDATE_EXTRA
        while True:
            semantic, exhausted = self._readable_semantic(query, mask, allowed, k, readable)
            lexical = readable.first(self._lexical(terms, mask, caller), k)
            candidates = self._best_per_file(reciprocal_rank_fusion(semantic, lexical))
            if len(candidates) >= limit or exhausted:
                return self._hits(candidates[:limit], readable, text)
            k *= 4

    def by_filters(self, where: FileFilter, limit: int, caller: Caller) -> list[SearchHit]:
        """The `limit` most recently modified files that `where` lets through and
        the caller may open (a query of filters alone: "python files from today")."""
        access = AccessCheck(caller)
        chosen: list[tuple[FileRow, int | None]] = []
        offset = 0
        while len(chosen) < limit:
            ids = self._db.newest_files(where, NEWEST_BATCH, offset)
            if not ids:
                break
            offset += len(ids)
            rows = self._db.file_rows(ids)
            firsts = self._db.first_chunks(ids)
            for file_id in ids:
                row = rows[file_id]
                if access.may_open(row.path, row.identity):
                    chosen.append((row, firsts.get(file_id)))
                    if len(chosen) == limit:
                        break
        stored = self._db.chunks([chunk for _, chunk in chosen if chunk is not None])
        return [
            _hit(row, 0.0, _EMPTY if chunk is None else snippet(stored[chunk].chunk, ""))
            for row, chunk in chosen
        ]

    def _readable_semantic(
        self, query: Vector, mask: Mask | None, allowed: int, k: int, readable: _ReadableFiles
    ) -> tuple[list[int], bool]:
        """`_semantic` among the chunks of the files the caller may open: more
        neighbours are asked for until k of them are the caller's to see, or
        there are no more (fewer came than were asked for: all of them came)."""
        wanted = k
        while True:
            nearest, exhausted = self._semantic(query, mask, allowed, wanted)
            kept = readable.first(nearest, k)
            if len(kept) >= k or exhausted or len(nearest) < wanted:
                return kept, exhausted
            wanted *= 4

    def _semantic(
        self, query: Vector, mask: Mask | None, allowed: int, k: int
    ) -> tuple[list[int], bool]:
        """The ids of up to k chunks nearest the query among those the mask
        keeps, nearest first, and whether they are all of them."""
        if allowed > self._exact_max_rows:
            approximate = self._approximate(query, mask, allowed, k)
            if approximate is not None:
                return approximate, False
        ids, _ = self._vectors.top(query[None, :], k, mask)
        return ids[0].tolist(), k >= allowed

    def _approximate(
        self, query: Vector, mask: Mask | None, allowed: int, k: int
    ) -> list[int] | None:
        """`_semantic` through chromadb, or None where the exact product must answer."""
        unsynced = self._unsynced
        want = math.ceil(k * OVERFETCH * len(self._vectors) / allowed)
        if want > MAX_APPROXIMATE_K or len(unsynced) > self._exact_max_rows:
            return None
        chroma = self._outbox.collection
        nearest = self._outbox.guarded("searching", lambda: chroma.top(query, want))
        if nearest is None:
            return None
        found = [i for i in nearest[0].tolist() if self._vectors.allows(mask, i)]
        if len(found) < k and len(nearest[0]) == want:
            return None
        # What chromadb does not have yet; stale entries it still has are not in RAM.
        pending = [i for i in unsynced if self._vectors.allows(mask, i)]
        candidates = list(dict.fromkeys(found + pending))
        cosines = self._vectors.cosines(query, candidates)
        order = sorted(range(len(candidates)), key=lambda i: -cosines[i])[:k]
        return [candidates[i] for i in order]

    def _lexical(self, terms: list[str], mask: Mask | None, caller: Caller) -> list[int]:
        """The ids of the chunks among those the mask keeps that contain the
        rarer of these words, the highest sum of IDFs first (then the newest);
        a word's rarity and IDF are the caller's, counted among its own chunks
        (all of them for root)."""
        owned = self._owned_by(caller)
        chunks = owned(self._vectors.groups)
        limit = common_limit(chunks)
        scores: dict[int, float] = {}
        for term in terms:
            found = self._db.postings(term, read_limit(len(self._vectors)))
            if found is None or not len(found):
                continue
            groups, allowed = self._vectors.groups_of(found, mask)
            containing = owned(groups)
            if containing > limit:
                continue
            weight = idf(containing, chunks)
            for chunk_id in found[allowed].tolist():
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight
        return sorted(scores, key=lambda chunk_id: (-scores[chunk_id], -chunk_id))

    def _owned_by(self, caller: Caller) -> Callable[[IdArray], int]:
        """How many of the chunks of these files (a file id per chunk) count
        as the caller's own for word weights: those of files it owns; every
        one for root, who may read them all."""
        if caller.uid == ROOT_UID:
            return len
        return functools.partial(self._owners.count_owned, uid=caller.uid)

    def _best_per_file(self, fused: list[Fused[int]]) -> list[_Candidate]:
        """Each file once, at its best chunk's place in the fused ranking."""
        best: dict[int, _Candidate] = {}
        for candidate in fused:
            file_id = self._vectors.group_of(candidate.key)
            if file_id is not None and file_id not in best:
                best[file_id] = _Candidate(file_id, candidate.key, candidate.score)
        return list(best.values())

    def _hits(
        self, chosen: list[_Candidate], readable: _ReadableFiles, text: str
    ) -> list[SearchHit]:
        stored = self._db.chunks([candidate.chunk_id for candidate in chosen])
        return [
            _hit(
                readable.row(candidate.file_id),
                candidate.score,
                snippet(stored[candidate.chunk_id].chunk, text),
            )
            for candidate in chosen
        ]


class _ReadableFiles:
    """Which files one caller may open, decided once per file in one search
    (`AccessCheck` keeps its directories' decisions too): the rankings are cut
    to these before they are fused, so that a caller's ranks, and so scores,
    are the same whether or not other users have files that match."""

    def __init__(self, db: IndexDatabase, vectors: VectorMatrix, access: AccessCheck) -> None:
        self._db = db
        self._vectors = vectors
        self._access = access
        # A file's row when the caller may open it, None when not.
        self._decided: dict[int, FileRow | None] = {}

    def first(self, chunk_ids: list[int], k: int) -> list[int]:
        """The first k of these chunks (in their order) whose files the caller
        may open. Files are read from SQLite a batch at a time, as needed."""
        kept: list[int] = []
        start = 0
        while start < len(chunk_ids) and len(kept) < k:
            part = chunk_ids[start : start + k - len(kept)]
            start += len(part)
            files = [self._vectors.group_of(chunk_id) for chunk_id in part]
            self._decide({file_id for file_id in files if file_id is not None})
            for chunk_id, file_id in zip(part, files, strict=True):
                if file_id is not None and self._decided[file_id] is not None:
                    kept.append(chunk_id)
                    if len(kept) == k:
                        break
        return kept

    def row(self, file_id: int) -> FileRow:
        """The row of a file decided open to the caller."""
        row = self._decided[file_id]
        if row is None:
            raise AssertionError(f"file {file_id} is not the caller's to see")
        return row

    def _decide(self, file_ids: set[int]) -> None:
        new = [file_id for file_id in file_ids if file_id not in self._decided]
        if not new:
            return
        rows = self._db.file_rows(new)
        for file_id in new:
            row = rows.get(file_id)
            openable = row is not None and self._access.may_open(row.path, row.identity)
            self._decided[file_id] = row if openable else None


# What an empty file shows.
_EMPTY = Snippet(1, 0, (), None)


def _hit(row: FileRow, score: float, shown: Snippet) -> SearchHit:
    return SearchHit(os.fsdecode(row.path), score, shown, row.mtime, row.language, row.device)
