"""One user's memories across the three tiers, kept consistent with SQLite.

SQLite (`MemoryDatabase`) decides; the RAM matrices and chromadb follow it:

- `hot`: a float32 matrix of the hot memories, and of the warm ones not yet
  written to chromadb (write-behind: see `MemoryConfig.max_unwritten_warm`),
  so that a memory is searchable from the moment its transaction commits, a
  recall never waits on chromadb's writes, and a memory merged or pruned soon
  after its demotion never costs one;
- `warm`: chromadb, holding the warm memories marked warm_synced;
- `cold`: an int8 matrix of the cold memories.

Every change commits to SQLite first, then updates RAM, then chromadb (the
outbox: `noosd.shared.outbox`). Loading a user rebuilds the matrices from
SQLite and replays the removals a crash left in the outbox, so kill -9 at any
moment loses nothing that committed. Removals reach chromadb at once after a
forget (what is forgotten must go), the rest at consolidation.

chromadb may fail after SQLite committed (a full or unwritable disk): what it
lacks stays in the outbox and in the hot matrix, and is written later; the
change that committed stands. A chromadb that fails to open or search (its
files damaged) is set aside and rebuilt from SQLite (`_rebuild_warm`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from noosd.memory.core import fusion, scoring
from noosd.memory.core.codec import Matrix, Vector
from noosd.memory.core.config import MemoryConfig
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.ids import IdAllocator, format_id
from noosd.memory.core.kinds import FACT_SUBJECT_KEY
from noosd.memory.core.model import Hit, Memory
from noosd.memory.core.tiering import COLD, HOT, TIERS, WARM, hot_margin, overflow, warm_margin
from noosd.memory.storage.database import (
    MemoryDatabase,
    Moved,
    NewMemoryRow,
    ScoringColumns,
    StoredMemory,
    row_bytes,
)
from noosd.memory.storage.hot import HotIndex
from noosd.memory.storage.warm import WarmIndex
from noosd.shared.chroma import ChromaError
from noosd.shared.diskspace import has_room
from noosd.shared.matrix import IdArray, VectorMatrix
from noosd.shared.outbox import ChromaOutbox

DATABASE_FILE = "memory.sqlite3"
WARM_DIR = "warm"
# A recall ranks by relevance first: it takes this many times its limit (plus a
# few) nearest memories from each tier, then re-ranks them by the full score.
CANDIDATE_FACTOR = 4
CANDIDATE_EXTRA = 16
# Memories remembered within this many seconds of each other, one right
# after the other, are neighbours: a conversation's turns, a shell session's
# commands. Ten minutes: "turns within minutes", not fitted to any data.
NEIGHBOUR_WINDOW_S = 600.0
# Unwritten warm memories written to chromadb at a time when there are too many:
# about a second of chromadb's writes.
WARM_WRITE_CHUNK = 1000
# Recalls record their accesses in RAM and apply them in one transaction when
# this many memories wait (rarely: a recall's reply never waits for it but one
# in hundreds), before any other change, or when the service is idle.
MAX_PENDING_ACCESSES = 4096
# chromadb never reuses the slot of a deleted vector: its index is rebuilt when
# dead slots outnumber live ones and this many.
WARM_REBUILD_MIN_DEAD = 1000

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Ranked:
    """A candidate's score and its components, before it is accessed."""

    id: int
    score: float
    relevance: float
    recency: float
    importance: float
    timely: bool
    similarity: float
    neighbour_of: int | None = None


class UserMemories:
    """A user's database, RAM matrices and chromadb index; used from one thread."""

    def __init__(
        self, uid: int, directory: Path, dim: int, config: MemoryConfig, device: str | None
    ) -> None:
        self.uid = uid
        self.directory = directory
        self.config = config
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db = MemoryDatabase(directory / DATABASE_FILE)
        self.ids = IdAllocator(self.db.largest_id())
        self.hot = HotIndex(dim, device)
        self.cold = VectorMatrix(dim, quantized=True)
        self.warm = WarmIndex(directory / WARM_DIR)
        # A warm memory waits in the hot matrix until chromadb has it.
        self.outbox = ChromaOutbox(
            self.db, self.warm, marking=self._count_slots, written=self.hot.remove
        )
        self.counts = self.db.count_by_tier()
        # The bytes of the texts and metadata as stored, for the quota; None:
        # count them again (after deletions, or a compression by going cold).
        self._stored_bytes: int | None = None
        # Accesses by recalls not yet in SQLite: id to (the last one's time, how many).
        self._pending: dict[int, tuple[float, int]] = {}
        self._add_hot(*self.db.tier_vectors(HOT))
        self._add_hot(*self.db.unsynced())
        cold_ids, codes, scales = self.db.cold_codes()
        if len(cold_ids):
            self._check_dim(codes.shape[1])
            self.cold.add_quantized(cold_ids.tolist(), codes, scales)
        try:
            self._add_hot(*self.db.vectors(self.outbox.reconcile()))
        except ChromaError as error:
            self._rebuild_warm(error)
        self.write_warm_if_due()

    def close(self) -> None:
        """Close the files; unwritten warm memories wait in SQLite for the next open."""
        self.apply_accesses()
        self._flush_removals()
        with contextlib.suppress(ChromaError):
            self.warm.close()  # nothing is lost: chromadb follows SQLite, which closes next
        self.db.close()

    # --- adding ---

    def add(self, rows: Sequence[NewMemoryRow], supersessions: Sequence[tuple[int, int]]) -> None:
        """Insert new hot memories; `supersessions` are (old id, new id) pairs.

        A new fact whose metadata names a subject also supersedes the older
        current facts about that subject.
        """
        self.apply_accesses()
        with self.db.transaction():
            self.db.insert(rows)
            for old, new in supersessions:
                self.db.supersede([old], new, self._created_at(rows, new))
            for row in rows:
                subject = row.metadata.get(FACT_SUBJECT_KEY) if row.kind == "fact" else None
                if subject is not None:
                    older = [
                        i for i in self.db.current_facts(FACT_SUBJECT_KEY, subject) if i < row.id
                    ]
                    self.db.supersede(older, row.id, row.created_at)
        self._add_hot(
            np.array([row.id for row in rows], dtype=np.int64),
            np.stack([row.vector for row in rows]),
        )
        self.counts[HOT] += len(rows)
        if self._stored_bytes is not None:
            self._stored_bytes += sum(row_bytes(row.text, row.metadata) for row in rows)

    @staticmethod
    def _created_at(rows: Sequence[NewMemoryRow], memory_id: int) -> float:
        return next(row.created_at for row in rows if row.id == memory_id)

    # --- reading ---

    def memory_count(self) -> int:
        return sum(self.counts.values())

    def stored_bytes(self) -> int:
        """The bytes of every memory's text and metadata, as stored."""
        if self._stored_bytes is None:
            self._stored_bytes = self.db.stored_bytes()
        return self._stored_bytes

    def fetch(self, ids: Sequence[int]) -> dict[int, StoredMemory]:
        return self.db.fetch(ids)

    def memory(self, stored: StoredMemory) -> Memory:
        """The public form of a stored memory."""
        importance = scoring.importance(
            stored.base_importance,
            stored.repetitions,
            stored.access_count,
            stored.pinned,
            self.config.repetition_boost,
            self.config.access_boost,
            self.config.repetition_cap,
        )
        return Memory(
            id=format_id(stored.id),
            uid=self.uid,
            text=stored.text,
            kind=stored.kind,
            metadata=stored.metadata,
            created_at=stored.created_at,
            last_accessed=stored.last_accessed,
            access_count=stored.access_count,
            importance=float(importance),
            pinned=stored.pinned,
            tier=TIERS[stored.tier],
            superseded_at=stored.superseded_at,
            superseded_by=None if stored.superseded_by is None else format_id(stored.superseded_by),
            provenance=tuple(format_id(i) for i, _ in stored.provenance),
            provenance_created_at=tuple(at for _, at in stored.provenance),
            repetitions=stored.repetitions,
        )

    def recall(
        self,
        query: Vector,
        terms: Sequence[str],
        limit: int,
        filters: RecallFilter,
        now: float,
        asks_when: bool,
        neighbours: bool = False,
    ) -> list[Hit]:
        """The best `limit` memories for a query vector and its words (FTS5
        strings: `noosd.shared.lexical.fts_terms`), across tiers, then accessed;
        `asks_when`: the query asks about time (see scoring). With
        `neighbours`, each hit is followed by its neighbours (`_neighbours`)
        not returned already, beyond `limit`.

        The accesses are recorded in RAM and reach SQLite later, in a batch
        (`apply_accesses`): the reply does not wait for a write. The memories
        returned show them already, and ranking counts the pending ones.

        Each tier gives its nearest candidates by cosine, and FTS5 the k that
        best match the words by BM25, in every tier (their cosines computed
        from their stored vectors); their relevance fuses both (see fusion).
        SQLite keeps the candidates the filter matches, and the full score
        re-ranks them. When too few pass and a tier had more to give, SQLite
        selects everything the filter matches and that is searched
        exhaustively instead: exact, and cheap because such a filter is
        selective.
        """
        k = limit * CANDIDATE_FACTOR + CANDIDATE_EXTRA
        nearest, exhausted = self.nearest(query[None, :], k)
        lexical = (
            self.db.lexical(terms, self.memory_count(), k)
            if self.config.fusion != fusion.NONE
            else []
        )
        ranked, matched = self._rank(
            *self._fused(query, nearest[0], lexical), filters, now, asks_when, limit
        )
        if matched < limit and not exhausted:
            candidates = self._filtered_candidates(query, k, filters)
            ranked, matched = self._rank(
                *self._fused(query, candidates, lexical), filters, now, asks_when, limit
            )
        chosen = ranked
        if not chosen:
            return []
        if neighbours:
            chosen = self._neighbours(chosen, query, filters, now, asks_when)
        accessed = self._access_later([hit.id for hit in chosen], now)
        return [
            Hit(
                accessed[hit.id],
                hit.score,
                hit.relevance,
                hit.recency,
                hit.importance,
                hit.timely,
                hit.similarity,
                None if hit.neighbour_of is None else format_id(hit.neighbour_of),
            )
            for hit in chosen
        ]

    def _neighbours(
        self,
        chosen: list[_Ranked],
        query: Vector,
        filters: RecallFilter,
        now: float,
        asks_when: bool,
    ) -> list[_Ranked]:
        """The hits, each followed by its neighbours that the filter matches and
        that are not returned already: the memories remembered right before and
        right after it, within NEIGHBOUR_WINDOW_S. A neighbour is scored as a
        hit is, by its cosine alone (it came for its hit, not for the words)."""
        links = self.db.neighbours([hit.id for hit in chosen], NEIGHBOUR_WINDOW_S)
        taken = {hit.id for hit in chosen}
        wanted = list(dict.fromkeys(n for hit in chosen for n in links[hit.id] if n not in taken))
        if not wanted:
            return chosen
        ids, vectors = self.db.vectors(wanted)
        cosines = dict(zip(ids.tolist(), (vectors @ query).tolist(), strict=True))
        ranked, _ = self._rank(cosines, cosines, filters, now, asks_when, len(cosines))
        scored = {hit.id: hit for hit in ranked}
        with_neighbours: list[_Ranked] = []
        for hit in chosen:
            with_neighbours.append(hit)
            for neighbour in links[hit.id]:
                if neighbour in scored and neighbour not in taken:
                    taken.add(neighbour)
                    with_neighbours.append(
                        dataclasses.replace(scored[neighbour], neighbour_of=hit.id)
                    )
        return with_neighbours

    def nearest(self, queries: Matrix, k: int) -> tuple[list[dict[int, float]], bool]:
        """Up to k nearest memories of each tier per query (id to cosine), and whether
        that was all of them.

        A stale chromadb entry (moved or deleted since) is found again in RAM or
        not at all (its row is gone); a memory found in RAM keeps its exact cosine.
        """
        found: list[dict[int, float]] = [{} for _ in range(len(queries))]
        # chromadb first: one that fails is rebuilt, its memories moved to RAM.
        synced = self.synced_warm_count()
        warm = self._warm_top(queries, k)
        exhausted = warm is None or synced <= k
        for matrix in (self.hot, self.cold):
            ids, sims = matrix.top(queries, k)
            for row, (row_ids, row_sims) in enumerate(zip(ids, sims, strict=True)):
                found[row].update(zip(row_ids.tolist(), row_sims.tolist(), strict=True))
            exhausted &= len(matrix) <= k
        if warm is not None:
            for row, (row_ids, row_sims) in enumerate(zip(*warm, strict=True)):
                for memory_id, sim in zip(row_ids.tolist(), row_sims.tolist(), strict=True):
                    found[row].setdefault(memory_id, sim)
        return found, exhausted

    def similar(self, queries: Matrix, min_sim: float, k: int) -> list[dict[int, float]]:
        """For each query, the memories with a cosine of at least min_sim: all of them
        in RAM, and among the k nearest in chromadb."""
        found: list[dict[int, float]] = [{} for _ in range(len(queries))]
        warm = self._warm_top(queries, k)
        for matrix in (self.hot, self.cold):
            positions, ids, sims = matrix.within(queries, min_sim)
            for position, memory_id, sim in zip(
                positions.tolist(), ids.tolist(), sims.tolist(), strict=True
            ):
                found[position][memory_id] = sim
        if warm is not None:
            for row, (row_ids, row_sims) in enumerate(zip(*warm, strict=True)):
                for memory_id, sim in zip(row_ids.tolist(), row_sims.tolist(), strict=True):
                    if sim >= min_sim:
                        found[row].setdefault(memory_id, sim)
        return found

    def _fused(
        self, query: Vector, cosines: dict[int, float], lexical: Sequence[tuple[int, float]]
    ) -> tuple[dict[int, float], dict[int, float]]:
        """The relevance of the semantic and lexical candidates together (see
        fusion), and the cosine of each."""
        missing = [memory_id for memory_id, _ in lexical if memory_id not in cosines]
        if missing:
            ids, vectors = self.db.vectors(missing)
            computed = dict(zip(ids.tolist(), (vectors @ query).tolist(), strict=True))
            cosines = {**cosines, **computed}
        # A lexical hit whose row is gone (none should be) has no cosine: left out.
        found = [(memory_id, score) for memory_id, score in lexical if memory_id in cosines]
        return fusion.relevance(cosines, found, self.config.fusion), cosines

    def _filtered_candidates(
        self, query: Vector, k: int, filters: RecallFilter
    ) -> dict[int, float]:
        """The k memories nearest the query among all those the filter matches."""
        best_ids = np.empty(0, dtype=np.int64)
        best_sims = np.empty(0, dtype=np.float32)
        for ids, vectors in self.db.matching_vectors(filters):
            best_ids = np.concatenate([best_ids, ids])
            best_sims = np.concatenate([best_sims, vectors @ query])
            if len(best_sims) > k:
                keep = np.argpartition(-best_sims, k - 1)[:k]
                best_ids, best_sims = best_ids[keep], best_sims[keep]
        return dict(zip(best_ids.tolist(), best_sims.tolist(), strict=True))

    def _rank(
        self,
        relevance: dict[int, float],
        similarity: dict[int, float],
        filters: RecallFilter,
        now: float,
        asks_when: bool,
        limit: int,
    ) -> tuple[list[_Ranked], int]:
        """The best `limit` candidates that the filter matches, best first, and how
        many it matches."""
        columns = self._with_pending(self.db.scoring(ids=list(relevance), filters=filters))
        recency, importance = self.components(columns, now)
        ids = columns.ids.tolist()
        # Fused with the words (see fusion): since hybrid recall, not the cosine,
        # which `similarity` keeps.
        relevances = np.fromiter(map(relevance.__getitem__, ids), np.float64)
        timely = columns.time_reference & asks_when
        scores = scoring.blend(relevances, recency, importance, timely, self.config.weights)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [
            _Ranked(
                ids[i],
                float(scores[i]),
                float(relevances[i]),
                float(recency[i]),
                float(importance[i]),
                bool(timely[i]),
                similarity[ids[i]],
            )
            for i in best.tolist()
        ], len(scores)

    # --- changing ---

    def access(self, ids: Sequence[int], now: float) -> dict[int, Memory]:
        """Record an access to these memories now and promote them to hot; returns
        them after."""
        for memory_id in ids:
            self._note_access(memory_id, now)
        self.apply_accesses()
        return {i: self.memory(m) for i, m in self.db.fetch(ids).items()}

    def _access_later(self, ids: Sequence[int], now: float) -> dict[int, Memory]:
        """Note an access to these memories, to apply later; returns them as they
        will be after it (and the accesses still pending before it)."""
        stored = self.db.fetch(ids)
        for memory_id in ids:
            self._note_access(memory_id, now)
        seen = {
            memory_id: self.memory(
                dataclasses.replace(
                    memory,
                    last_accessed=max(memory.last_accessed, self._pending[memory_id][0]),
                    access_count=memory.access_count + self._pending[memory_id][1],
                    tier=HOT,
                )
            )
            for memory_id, memory in stored.items()
        }
        if len(self._pending) >= MAX_PENDING_ACCESSES:
            self.apply_accesses()
        return seen

    def _with_pending(self, columns: ScoringColumns) -> ScoringColumns:
        """Scoring columns with the accesses not yet written counted in."""
        if not self._pending:
            return columns
        last_accessed = columns.last_accessed.copy()
        access_count = columns.access_count.copy()
        for row, memory_id in enumerate(columns.ids.tolist()):
            pending = self._pending.get(memory_id)
            if pending is not None:
                last_accessed[row] = max(last_accessed[row], pending[0])
                access_count[row] += pending[1]
        return dataclasses.replace(columns, last_accessed=last_accessed, access_count=access_count)

    def _note_access(self, memory_id: int, now: float) -> None:
        last, count = self._pending.get(memory_id, (now, 0))
        self._pending[memory_id] = (max(last, now), count + 1)

    def settle(self) -> None:
        """What to do when idle: write the pending accesses, checkpoint the WAL."""
        self.apply_accesses()
        if self.db.commits_since_checkpoint:
            self.db.checkpoint()

    def apply_accesses(self) -> None:
        """Write the pending accesses and promote their memories to hot, in one
        transaction that need survive only a crash, not a power loss (see
        `MemoryDatabase.relaxed`): reads' bookkeeping is worth no fsync."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        ids = list(pending)
        with self.db.relaxed():
            with self.db.transaction():
                self.db.touch(pending)
                moved = self.db.move(ids, HOT)
            self._apply(moved, HOT)
            self.enforce_capacity(max(last for last, _ in pending.values()))

    def pin(self, memory_id: int, pinned: bool) -> None:
        self.apply_accesses()
        with self.db.transaction():
            self.db.set_pinned(memory_id, pinned)

    def delete(self, ids: Sequence[int]) -> int:
        """Delete memories everywhere, chromadb included, at once; returns how many."""
        self.apply_accesses()
        with self.db.transaction():
            deleted = self.db.delete(ids)
        self.forget_in_ram(deleted)
        self._flush_removals()
        return len(deleted)

    def forget_in_ram(self, deleted: Sequence[tuple[int, int]]) -> None:
        """Follow in RAM the deletions of these (id, tier) that SQLite committed."""
        gone = [memory_id for memory_id, _ in deleted]
        if gone:
            self._stored_bytes = None
        self.hot.remove(gone)
        self.cold.remove(gone)
        for _, tier in deleted:
            self.counts[tier] -= 1

    def move(self, ids: Sequence[int], tier: int) -> list[Moved]:
        with self.db.transaction():
            moved = self.db.move(ids, tier)
        self._apply(moved, tier)
        return moved

    def components(
        self, columns: ScoringColumns, now: float
    ) -> tuple[scoring.FloatArray, scoring.FloatArray]:
        """The recency and importance of memories, from their scoring columns."""
        recency = scoring.recency(now - columns.last_accessed, self.config.half_life_s)
        importance = scoring.importance(
            columns.base_importance,
            columns.repetitions,
            columns.access_count,
            columns.pinned,
            self.config.repetition_boost,
            self.config.access_boost,
            self.config.repetition_cap,
        )
        return recency, importance

    def enforce_capacity(self, now: float) -> None:
        """Demote the lowest-retention memories of a tier over its capacity (see tiering)."""
        for tier, capacity, margin in (
            (HOT, self.config.hot_capacity, hot_margin(self.config.hot_capacity)),
            (WARM, self.config.warm_capacity, warm_margin(self.config.warm_capacity)),
        ):
            if self.counts[tier] <= capacity:
                continue
            columns = self.db.scoring(tier=tier)
            retention = scoring.retention(*self.components(columns, now))
            demoted = columns.ids[overflow(retention, capacity, margin)]
            self.move(demoted.tolist(), tier + 1)

    def _apply(self, moved: Sequence[Moved], tier: int) -> None:
        """Follow in RAM the tier moves that SQLite committed."""
        if not moved:
            return
        ids = [m.id for m in moved]
        if tier == COLD:
            self._stored_bytes = None
            self.hot.remove(ids)
            self.cold.add_quantized(
                ids,
                np.stack([m.codes for m in moved if m.codes is not None]),
                np.array([m.scale for m in moved], dtype=np.float32),
            )
        else:
            # Hot, or warm and not yet in chromadb: in the hot matrix either way.
            self.cold.remove(ids)
            entering = [m for m in moved if m.id not in self.hot]
            if entering:
                self.hot.add([m.id for m in entering], np.stack([m.vector for m in entering]))
        for m in moved:
            self.counts[m.old_tier] -= 1
            self.counts[tier] += 1

    # --- chromadb ---

    def synced_warm_count(self) -> int:
        """Warm memories in chromadb: the warm ones not waiting in the hot matrix."""
        return self.counts[WARM] - self.unwritten_warm_count()

    def unwritten_warm_count(self) -> int:
        """Warm memories not yet in chromadb, waiting in the hot matrix."""
        return len(self.hot) - self.counts[HOT]

    def sync_warm(self) -> None:
        """Replay the whole outbox: chromadb then holds exactly the warm memories."""
        self.outbox.flush()

    def write_warm_if_due(self, added: int = 0) -> None:
        """Write the oldest unwritten warm memories if there are too many, a chunk at
        a time (twice what the call just `added`, at least WARM_WRITE_CHUNK): each
        remember pays a bounded part, and the backlog still shrinks."""
        if self.unwritten_warm_count() > self.config.max_unwritten_warm and self._has_room():
            try:
                self.outbox.write(limit=max(WARM_WRITE_CHUNK, 2 * added))
            except ChromaError as error:
                # They wait in the hot matrix and the outbox: the next write tries again.
                _log.warning("chromadb failed to take uid %d's warm memories: %s", self.uid, error)

    def _has_room(self) -> bool:
        """Whether chromadb may write: its writes hang on a full disk, so they
        wait, queued in SQLite's outbox, while the disk has no more than the
        reserve free."""
        room = has_room(self.directory, self.config.min_free_bytes)
        if not room:
            _log.warning("chromadb's writes for uid %d wait: the disk is nearly full", self.uid)
        return room

    def _flush_removals(self) -> None:
        """Delete from chromadb what SQLite deleted; on failure they stay queued
        (a stale vector in chromadb finds no row: it is never returned)."""
        if not self._has_room():
            return
        try:
            self.outbox.flush_removals()
        except ChromaError as error:
            _log.warning("deleting from chromadb for uid %d failed: %s", self.uid, error)

    def _warm_top(self, queries: Matrix, k: int) -> tuple[list[IdArray], list[Matrix]] | None:
        """chromadb's k nearest to each query; None if it holds none, or failed
        and was rebuilt (its memories are then in the hot matrix)."""
        if not self.synced_warm_count():
            return None
        try:
            return self.warm.top(queries, k)
        except ChromaError as error:
            self._rebuild_warm(error)
            return None

    def _rebuild_warm(self, error: ChromaError) -> None:
        """Set a failing chromadb aside and start it again from SQLite: every warm
        memory is unsynced, waits in the hot matrix, and is written as they are."""
        self.warm.set_aside(str(error))
        synced = sorted(self.db.synced_ids())
        with self.db.transaction():
            self.db.mark_all_unsynced()
            self.db.set_state("warm_slots", 0)
        self._add_hot(*self.db.vectors([i for i in synced if i not in self.hot]))

    def _count_slots(self, written: list[int]) -> None:
        """Count the slots that chromadb's index has used since it was last rebuilt."""
        self.db.set_state("warm_slots", self.db.state("warm_slots") + len(written))

    def rebuild_warm_if_sparse(self) -> bool:
        """Rebuild the chromadb index from SQLite when dead slots dominate it."""
        live = self.synced_warm_count()
        dead = self.db.state("warm_slots") - live
        if dead <= max(live, WARM_REBUILD_MIN_DEAD):
            return False
        with self.db.transaction():
            self.db.mark_all_unsynced()
            self.db.set_state("warm_slots", 0)
        self.warm.reset()
        # The memories wait in SQLite only (not the hot matrix) for the moment
        # this takes; after a crash here, the next open loads them as unwritten.
        self.outbox.write()
        return True

    # --- the files ---

    def bytes_used(self) -> int:
        return directory_bytes(self.directory)

    def reclaim(self) -> None:
        self.db.reclaim()

    # --- helpers ---

    def _add_hot(self, ids: np.ndarray, vectors: Matrix) -> None:
        if len(ids):
            self._check_dim(vectors.shape[1])
            self.hot.add(ids.tolist(), vectors)

    def _check_dim(self, dim: int) -> None:
        if dim != self.hot.dim:
            raise RuntimeError(
                f"{self.directory}: stored vectors have {dim} dimensions, the embedder "
                f"{self.hot.dim}; the memories of another model need re-embedding"
            )


def directory_bytes(directory: Path) -> int:
    """The bytes of the files under a directory: what its user's memories take on disk.

    Files may come and go meanwhile (another thread writes): those are skipped.
    """
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(root) / name).stat().st_size
    return total
