"""One user's memories in SQLite: the source of truth of the memory store.

Everything about a memory is here (text, metadata, times, importance, pin,
tier, provenance, supersession, and its vector as float16, or int8 with a scale
when cold), so the hot matrix and the chromadb index can always be rebuilt from
it. The database runs in WAL mode with synchronous=FULL: a transaction that
committed survives kill -9 and power loss (the bookkeeping of reads survives
kill -9 only: see `relaxed`). auto_vacuum=INCREMENTAL lets consolidation hand
freed pages back to the file system.

Two tables keep chromadb in step (an outbox): a warm memory with
warm_synced = 0 is not yet in chromadb, and `warm_removals` lists ids to delete
from it. Both change in the same transaction as the move that causes them, so
a crash between the SQLite commit and the chromadb write loses nothing: the
next open replays them.

`metadata_index` lets SQLite answer metadata filters (and find the current
fact about a subject) without reading every row's JSON; `text_hash` finds the
repetitions of a text without comparing vectors.

`memory_words` is FTS5 over every memory's text, in every tier (rowid = the
memory's id), for the lexical half of a recall (`lexical`). It is contentless
(the words' postings only, not a second copy of the text: a cold memory's
text stays compressed), so a deletion hands FTS5 the text it removes. Since
version 3; a database of an earlier version gets it filled when it opens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from noosd.memory.core.codec import (
    Matrix,
    Vector,
    decode_vector,
    float16_bytes,
    pack_text,
    text_key,
    unpack_text,
)
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.kinds import NEVER_PRUNED
from noosd.memory.core.model import MetadataValue
from noosd.memory.core.temporal import refers_to_time
from noosd.memory.core.tiering import COLD, HOT, WARM
from noosd.shared.lexical import FTS_TOKENIZE, common_limit
from noosd.shared.matrix import IdArray
from noosd.shared.outbox import OutboxDatabase, OutboxSchema
from noosd.shared.quantize import Codes, dequantized, quantized
from noosd.shared.sqlite import batches, marks

SCHEMA_VERSION = 3

# Version 3's: the words of every memory (see the module's docstring).
_WORDS_SCHEMA = f"""
CREATE VIRTUAL TABLE memory_words USING fts5 (
    text,
    content = '',
    tokenize = '{FTS_TOKENIZE}'
);
"""

_SCHEMA = (
    """
CREATE TABLE memories (
    id INTEGER PRIMARY KEY,           -- see ids.py
    kind TEXT NOT NULL,
    text BLOB NOT NULL,               -- UTF-8; zlib-compressed when text_zlib
    text_zlib INTEGER NOT NULL,
    text_hash INTEGER NOT NULL,       -- codec.text_key(kind, text): finds repetitions
    metadata TEXT NOT NULL,           -- a JSON object
    created_at REAL NOT NULL,
    last_accessed REAL NOT NULL,
    access_count INTEGER NOT NULL,
    base_importance REAL NOT NULL,    -- the hint, or the kind's default
    pinned INTEGER NOT NULL,
    tier INTEGER NOT NULL,            -- 0 hot, 1 warm, 2 cold
    warm_synced INTEGER NOT NULL,     -- a warm memory already in chromadb
    vector BLOB NOT NULL,             -- float16, or int8 when vector_scale is set
    vector_scale REAL,
    superseded_at REAL,
    superseded_by INTEGER,
    repetitions INTEGER NOT NULL,     -- near-duplicates merged in
    provenance BLOB,                  -- the latest of those as _PROVENANCE records; NULL: none
    time_reference INTEGER NOT NULL   -- temporal.refers_to_time(text)
);
CREATE INDEX memories_by_tier ON memories (tier, warm_synced);
CREATE INDEX memories_by_kind ON memories (kind, created_at);
CREATE INDEX memories_by_time ON memories (created_at);
-- Covers the search for repetitions: no row is read.
CREATE INDEX memories_by_text ON memories (text_hash, superseded_at);
CREATE INDEX memories_by_successor ON memories (superseded_by) WHERE superseded_by IS NOT NULL;
CREATE TABLE metadata_index (
    key TEXT NOT NULL,
    value TEXT NOT NULL,              -- see _index_value
    memory_id INTEGER NOT NULL,
    PRIMARY KEY (key, value, memory_id)
) WITHOUT ROWID;
CREATE TABLE warm_removals (id INTEGER PRIMARY KEY);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""
    + _WORDS_SCHEMA
)

# The columns `StoredMemory` is read from, in order.
_MEMORY_COLUMNS = (
    "id, kind, text, text_zlib, metadata, created_at, last_accessed, access_count, "
    "base_importance, pinned, tier, superseded_at, superseded_by, repetitions, provenance"
)
# Rows decoded at a time when scanning vectors.
_SCAN_ROWS = 8192
# A memory's provenance lists the latest merged memories, up to this many (its
# repetitions count them all): a command repeated a hundred thousand times
# would otherwise carry them all into every recall that returns it.
MAX_PROVENANCE = 100
# One provenance entry: a merged memory's id and when it was remembered.
_PROVENANCE = np.dtype([("id", "<i8"), ("created_at", "<f8")])
# The most rows a recall's lexical stage scores by bm25() (see `lexical`):
# about 2 ms, a tenth of a recall's p99 budget (20 ms at 100,000 memories).
MAX_SCORED_POSTINGS = 2000
# The WAL is truncated back to this after a checkpoint.
_WAL_LIMIT_BYTES = 4 * 1024 * 1024
# SQLite's automatic checkpoint (every 1,000 WAL pages) runs inside whichever
# commit crosses the line, a recall's bookkeeping included, and costs tens of
# milliseconds there. It is off: the store checkpoints when idle, at
# consolidation, and inside a commit only past this many commits since the last.
FORCED_CHECKPOINT_COMMITS = 5000


@dataclass(frozen=True)
class StoredMemory:
    """A memory as stored, decoded; the store adds uid and effective importance."""

    id: int
    kind: str
    text: str
    metadata: dict[str, MetadataValue]
    created_at: float
    last_accessed: float
    access_count: int
    base_importance: float
    pinned: bool
    tier: int
    superseded_at: float | None
    superseded_by: int | None
    repetitions: int
    provenance: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class NewMemoryRow:
    """A memory to insert: new, hot, with its unit vector."""

    id: int
    kind: str
    text: str
    metadata: Mapping[str, MetadataValue]
    created_at: float
    base_importance: float
    vector: Vector


@dataclass(frozen=True)
class ScoringColumns:
    """What scoring and tiering need of many memories, as arrays."""

    ids: IdArray
    tiers: npt.NDArray[np.int64]
    last_accessed: npt.NDArray[np.float64]
    base_importance: npt.NDArray[np.float64]
    access_count: npt.NDArray[np.float64]
    repetitions: npt.NDArray[np.float64]
    pinned: npt.NDArray[np.bool_]
    never_pruned: npt.NDArray[np.bool_]
    time_reference: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Moved:
    """A memory that changed tier: its vector, and its int8 form if it went cold."""

    id: int
    old_tier: int
    vector: Vector
    codes: npt.NDArray[np.int8] | None
    scale: float | None


def _decode_vectors(rows: Sequence[tuple[Any, ...]]) -> tuple[IdArray, Matrix]:
    """Ids and float32 vectors from (id, blob, scale) rows: float16 and int8 alike."""
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    if not rows:
        return ids, np.empty((0, 0), dtype=np.float32)
    halves = [i for i, row in enumerate(rows) if row[2] is None]
    quarters = [i for i, row in enumerate(rows) if row[2] is not None]
    dim = len(rows[halves[0]][1]) // 2 if halves else len(rows[quarters[0]][1])
    vectors = np.empty((len(rows), dim), dtype=np.float32)
    if halves:
        blob = b"".join(rows[i][1] for i in halves)
        vectors[halves] = np.frombuffer(blob, dtype=np.float16).reshape(len(halves), dim)
    if quarters:
        blob = b"".join(rows[i][1] for i in quarters)
        codes = np.frombuffer(blob, dtype=np.int8).reshape(len(quarters), dim)
        scales = np.array([rows[i][2] for i in quarters], dtype=np.float32)
        vectors[quarters] = dequantized(codes, scales)
    return ids, vectors


class MemoryDatabase(OutboxDatabase):
    """A user's SQLite database; used from one thread at a time."""

    # chromadb follows the warm memories.
    OUTBOX = OutboxSchema(
        table="memories",
        synced="warm_synced",
        removals="warm_removals",
        vector_columns="vector, vector_scale",
        decode=_decode_vectors,
        scope=f"tier = {WARM}",
    )

    def __init__(self, path: Path) -> None:
        self.commits_since_checkpoint = 0
        super().__init__(
            path,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            settings={
                # Deleted text is overwritten where that costs no extra writes.
                "secure_delete": "FAST",
                "journal_size_limit": _WAL_LIMIT_BYTES,
                "wal_autocheckpoint": 0,
            },
            migrations={1: self._migrate_from_1, 2: self._migrate_from_2},
            # The truth of its user's memories: damage is found on open, not later.
            verify=True,
        )

    def _migrate_from_1(self) -> None:
        """Version 2 flags the memories that mention a time, and hashes texts by
        their words (`codec.text_key`): flag and hash the old ones; then on to 3."""
        with self.transaction():
            self._db.execute(
                "ALTER TABLE memories ADD COLUMN time_reference INTEGER NOT NULL DEFAULT 0"
            )
            rows = self._db.execute("SELECT id, kind, text, text_zlib FROM memories").fetchall()
            texts = [(row[0], row[1], unpack_text(row[2], bool(row[3]))) for row in rows]
            self._db.executemany(
                "UPDATE memories SET time_reference = ?, text_hash = ? WHERE id = ?",
                [
                    (refers_to_time(text), text_key(kind, text), memory_id)
                    for memory_id, kind, text in texts
                ],
            )
            self._add_words(texts)

    def _migrate_from_2(self) -> None:
        """Version 3 indexes every memory's words (`memory_words`): index the old ones."""
        with self.transaction():
            rows = self._db.execute("SELECT id, kind, text, text_zlib FROM memories").fetchall()
            self._add_words([(row[0], row[1], unpack_text(row[2], bool(row[3]))) for row in rows])

    def _add_words(self, texts: Sequence[tuple[int, str, str]]) -> None:
        """Inside a migration's transaction: index these (id, kind, text), and
        mark the file as of this version."""
        self._db.execute(_WORDS_SCHEMA)
        self._db.executemany(
            "INSERT INTO memory_words (rowid, text) VALUES (?, ?)",
            [(memory_id, text) for memory_id, _, text in texts],
        )
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable change: committed on leaving, rolled back on an
        exception; past FORCED_CHECKPOINT_COMMITS commits, a checkpoint follows."""
        with super().transaction():
            yield
        self.commits_since_checkpoint += 1
        if self.commits_since_checkpoint >= FORCED_CHECKPOINT_COMMITS:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (as far as no reader prevents it)."""
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.commits_since_checkpoint = 0

    # --- state ---

    def state(self, key: str, default: int = 0) -> int:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def set_state(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    # --- reading ---

    def largest_id(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(id), 0) FROM memories").fetchone()[0])

    def stored_bytes(self) -> int:
        """The bytes of every memory's text and metadata, as stored (see `row_bytes`)."""
        (total,) = self._db.execute(
            "SELECT coalesce(sum(length(text) + length(CAST(metadata AS BLOB))), 0) FROM memories"
        ).fetchone()
        return int(total)

    def count_by_tier(self) -> dict[int, int]:
        counts = dict.fromkeys((HOT, WARM, COLD), 0)
        for tier, count in self._db.execute("SELECT tier, count(*) FROM memories GROUP BY tier"):
            counts[int(tier)] = int(count)
        return counts

    def fetch(self, ids: Sequence[int]) -> dict[int, StoredMemory]:
        """The memories of these ids that exist, by id."""
        found: dict[int, StoredMemory] = {}
        for chunk in batches(ids):
            query = f"SELECT {_MEMORY_COLUMNS} FROM memories WHERE id IN ({marks(chunk)})"
            for row in self._db.execute(query, chunk):
                memory = _decode(row)
                found[memory.id] = memory
        return found

    def scoring(
        self,
        ids: Sequence[int] | None = None,
        tier: int | None = None,
        filters: RecallFilter | None = None,
    ) -> ScoringColumns:
        """The scoring columns of the memories among `ids` (default: all), in `tier`
        (default: any), that `filters` matches (default: all)."""
        never_pruned = ",".join(f"'{kind}'" for kind in sorted(NEVER_PRUNED))
        query = (
            "SELECT id, tier, last_accessed, base_importance, access_count, repetitions, "
            f"pinned, kind IN ({never_pruned}), time_reference FROM memories"
        )
        where, params = _where(filters) if filters is not None else ("", [])
        if tier is not None:
            where += (" AND" if where else " WHERE") + " tier = ?"
            params.append(tier)
        if ids is None:
            rows = self._db.execute(query + where, params).fetchall()
        else:
            where += " AND" if where else " WHERE"
            rows = [
                row
                for chunk in batches(ids)
                for row in self._db.execute(
                    f"{query}{where} id IN ({marks(chunk)})", [*params, *chunk]
                )
            ]
        table = np.array(rows, dtype=np.float64).reshape(len(rows), 9)
        return ScoringColumns(
            ids=np.array([row[0] for row in rows], dtype=np.int64),
            tiers=table[:, 1].astype(np.int64),
            last_accessed=table[:, 2],
            base_importance=table[:, 3],
            access_count=table[:, 4],
            repetitions=table[:, 5],
            pinned=table[:, 6].astype(bool),
            never_pruned=table[:, 7].astype(bool),
            time_reference=table[:, 8].astype(bool),
        )

    def tier_vectors(self, tier: int) -> tuple[IdArray, Matrix]:
        """The ids and float32 vectors of a tier's memories, oldest first."""
        rows = self._db.execute(
            "SELECT id, vector, vector_scale FROM memories WHERE tier = ? ORDER BY id", (tier,)
        ).fetchall()
        return _decode_vectors(rows)

    def cold_codes(self) -> tuple[IdArray, npt.NDArray[np.int8], npt.NDArray[np.float32]]:
        """The ids, int8 codes and scales of the cold memories."""
        rows = self._db.execute(
            "SELECT id, vector, vector_scale FROM memories WHERE tier = ?", (COLD,)
        ).fetchall()
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        if not rows:
            return ids, np.empty((0, 0), dtype=np.int8), np.empty(0, dtype=np.float32)
        codes = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.int8)
        scales = np.array([row[2] for row in rows], dtype=np.float32)
        return ids, codes.reshape(len(rows), -1), scales

    def matching_ids(self, filters: RecallFilter) -> list[int]:
        where, params = _where(filters)
        return [int(row[0]) for row in self._db.execute(f"SELECT id FROM memories{where}", params)]

    def matching_vectors(self, filters: RecallFilter) -> Iterator[tuple[IdArray, Matrix]]:
        """The ids and float32 vectors of the memories the filter matches, a block at a time."""
        where, params = _where(filters)
        cursor = self._db.execute(f"SELECT id, vector, vector_scale FROM memories{where}", params)
        while rows := cursor.fetchmany(_SCAN_ROWS):
            yield _decode_vectors(rows)

    def current_facts(self, key: str, subject: MetadataValue) -> list[int]:
        """The ids of the facts about `subject` (metadata[key]) not yet superseded."""
        return [
            int(row[0])
            for row in self._db.execute(
                "SELECT id FROM memories WHERE kind = 'fact' AND superseded_at IS NULL AND id IN "
                "(SELECT memory_id FROM metadata_index WHERE key = ? AND value = ?)",
                (key, _index_value(subject)),
            )
        ]

    def lexical(self, terms: Sequence[str], memories: int, k: int) -> list[tuple[int, float]]:
        """The k memories (of every tier) that best match these FTS5 words by BM25
        (FTS5's bm25(): k1 = 1.2, b = 0.75), best first, with their scores
        (higher is better).

        bm25() costs about 1 us per row it scores, so the words are taken
        rarest first while the memories holding them number at most
        MAX_SCORED_POSTINGS (the rarest is always taken), and a word in more
        than `common_limit(memories)` of them never: the words left out are
        the commonest, which weigh least."""
        limit = common_limit(memories)
        counted = []
        for term in terms:
            (count,) = self._db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM memory_words WHERE memory_words MATCH ? "
                "LIMIT ?)",
                (term, limit + 1),
            ).fetchone()
            if 0 < count <= limit:
                counted.append((int(count), term))
        kept: list[str] = []
        scored = 0
        for count, term in sorted(counted):
            if kept and scored + count > MAX_SCORED_POSTINGS:
                break
            kept.append(term)
            scored += count
        if not kept:
            return []
        return [
            (int(memory_id), -float(rank))
            for memory_id, rank in self._db.execute(
                "SELECT rowid, rank FROM memory_words WHERE memory_words MATCH ? "
                "ORDER BY rank LIMIT ?",
                (" OR ".join(kept), k),
            )
        ]

    def neighbours(self, ids: Sequence[int], window_s: float) -> dict[int, list[int]]:
        """For each of these ids, the memories remembered right before and right
        after it (by id, which grows with time) if within `window_s` of it."""
        found: dict[int, list[int]] = {}
        for memory_id in ids:
            row = self._db.execute(
                "SELECT created_at FROM memories WHERE id = ?", (memory_id,)
            ).fetchone()
            found[memory_id] = []
            if row is None:
                continue
            for query in (
                "SELECT id, created_at FROM memories WHERE id < ? ORDER BY id DESC LIMIT 1",
                "SELECT id, created_at FROM memories WHERE id > ? ORDER BY id LIMIT 1",
            ):
                near = self._db.execute(query, (memory_id,)).fetchone()
                if near is not None and abs(float(near[1]) - float(row[0])) <= window_s:
                    found[memory_id].append(int(near[0]))
        return found

    def ids_after(self, watermark: int) -> list[int]:
        """The ids of the current memories added after `watermark`, oldest first."""
        return [
            int(row[0])
            for row in self._db.execute(
                "SELECT id FROM memories WHERE id > ? AND superseded_at IS NULL ORDER BY id",
                (watermark,),
            )
        ]

    def repetitions_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """The current memories of the same kind and text (by hash) as any of these,
        by text hash, oldest first."""
        found: dict[int, set[int]] = {}
        for chunk in batches(ids):
            for memory_id, text_hash in self._db.execute(
                "SELECT id, text_hash FROM memories WHERE superseded_at IS NULL AND text_hash IN "
                f"(SELECT text_hash FROM memories WHERE id IN ({marks(chunk)}))",
                chunk,
            ):
                found.setdefault(int(text_hash), set()).add(int(memory_id))
        return {text_hash: sorted(members) for text_hash, members in found.items()}

    def vectors(self, ids: Sequence[int]) -> tuple[IdArray, Matrix]:
        """The float32 vectors of these ids (those that exist)."""
        rows = [
            row
            for chunk in batches(ids)
            for row in self._db.execute(
                f"SELECT id, vector, vector_scale FROM memories WHERE id IN ({marks(chunk)})",
                chunk,
            )
        ]
        return _decode_vectors(rows)

    # --- writing (inside `transaction`) ---

    def insert(self, rows: Sequence[NewMemoryRow]) -> None:
        self._db.executemany(
            "INSERT INTO memories (id, kind, text, text_zlib, text_hash, metadata, created_at, "
            "last_accessed, access_count, base_importance, pinned, tier, warm_synced, vector, "
            "vector_scale, superseded_at, superseded_by, repetitions, provenance, time_reference) "
            "VALUES (?, ?, ?, 0, ?, ?, ?, ?, 0, ?, 0, ?, 0, ?, NULL, NULL, NULL, 0, NULL, ?)",
            [
                (
                    row.id,
                    row.kind,
                    row.text.encode("utf-8"),
                    text_key(row.kind, row.text),
                    metadata_json(row.metadata),
                    row.created_at,
                    row.created_at,
                    row.base_importance,
                    HOT,
                    float16_bytes(row.vector),
                    refers_to_time(row.text),
                )
                for row in rows
            ],
        )
        self._db.executemany(
            "INSERT INTO metadata_index (key, value, memory_id) VALUES (?, ?, ?)",
            [
                (key, _index_value(value), row.id)
                for row in rows
                for key, value in row.metadata.items()
            ],
        )
        self._db.executemany(
            "INSERT INTO memory_words (rowid, text) VALUES (?, ?)",
            [(row.id, row.text) for row in rows],
        )

    def touch(self, accesses: Mapping[int, tuple[float, int]]) -> None:
        """Record accesses, id to (the last one's time, how many)."""
        self._db.executemany(
            "UPDATE memories SET last_accessed = max(last_accessed, ?), "
            "access_count = access_count + ? WHERE id = ?",
            [(last, count, memory_id) for memory_id, (last, count) in accesses.items()],
        )

    def set_pinned(self, memory_id: int, pinned: bool) -> None:
        self._db.execute("UPDATE memories SET pinned = ? WHERE id = ?", (int(pinned), memory_id))

    def supersede(self, ids: Sequence[int], successor: int, at: float) -> None:
        for chunk in batches(ids):
            self._db.execute(
                "UPDATE memories SET superseded_at = ?, superseded_by = ? "
                f"WHERE id IN ({marks(chunk)})",
                [at, successor, *chunk],
            )

    def absorb(
        self,
        survivor: int,
        merged: Sequence[StoredMemory],
        last_accessed: float,
        access_count: int,
        pinned: bool,
    ) -> list[tuple[int, int]]:
        """Fold near-duplicates into `survivor`, keeping their ids and times, then delete
        them; returns the (id, tier) of those deleted."""
        row = self._db.execute(
            "SELECT repetitions, provenance FROM memories WHERE id = ?", (survivor,)
        ).fetchone()
        repetitions = int(row[0]) + sum(1 + memory.repetitions for memory in merged)
        provenance = list(_unpack_provenance(row[1]))
        for memory in merged:
            provenance.append((memory.id, memory.created_at))
            provenance.extend(memory.provenance)
        provenance.sort(key=lambda entry: (entry[1], entry[0]))
        self._db.execute(
            "UPDATE memories SET repetitions = ?, provenance = ?, last_accessed = ?, "
            "access_count = ?, pinned = ? WHERE id = ?",
            (
                repetitions,
                np.array(provenance[-MAX_PROVENANCE:], dtype=_PROVENANCE).tobytes(),
                last_accessed,
                access_count,
                int(pinned),
                survivor,
            ),
        )
        merged_ids = [memory.id for memory in merged]
        # What superseded a merged memory is now superseded by the survivor.
        for chunk in batches(merged_ids):
            self._db.execute(
                f"UPDATE memories SET superseded_by = ? WHERE superseded_by IN ({marks(chunk)})",
                [survivor, *chunk],
            )
        return self.delete(merged_ids)

    def delete(self, ids: Sequence[int]) -> list[tuple[int, int]]:
        """Delete memories; returns the (id, tier) of those that existed.

        A warm memory already in chromadb is queued for removal from it.
        """
        deleted: list[tuple[int, int]] = []
        for chunk in batches(ids):
            rows = self._db.execute(
                "SELECT id, tier, warm_synced, metadata, text, text_zlib FROM memories "
                f"WHERE id IN ({marks(chunk)})",
                chunk,
            ).fetchall()
            # A contentless FTS5 table forgets a text's words when handed the text.
            self._db.executemany(
                "INSERT INTO memory_words (memory_words, rowid, text) VALUES ('delete', ?, ?)",
                [(row[0], unpack_text(row[4], bool(row[5]))) for row in rows],
            )
            self._db.executemany(
                "DELETE FROM metadata_index WHERE key = ? AND value = ? AND memory_id = ?",
                [
                    (key, _index_value(value), row[0])
                    for row in rows
                    for key, value in json.loads(row[3]).items()
                ],
            )
            self.queue_removals([row[0] for row in rows if row[1] == WARM and row[2]])
            self._db.execute(f"DELETE FROM memories WHERE id IN ({marks(chunk)})", chunk)
            deleted.extend((int(row[0]), int(row[1])) for row in rows)
        return deleted

    def move(self, ids: Sequence[int], tier: int) -> list[Moved]:
        """Move memories to `tier`; returns those that moved.

        Cold memories keep int8 vectors and compressed text, the others float16
        vectors and plain text: a move in or out of the cold tier re-encodes the
        memory. One that enters the warm tier is not yet in chromadb; one that
        leaves it after being synced is queued for removal.
        """
        moved: list[Moved] = []
        for chunk in batches(ids):
            rows = self._db.execute(
                "SELECT id, tier, warm_synced, vector, vector_scale FROM memories "
                f"WHERE tier != ? AND id IN ({marks(chunk)})",
                [tier, *chunk],
            ).fetchall()
            recoded = [row[0] for row in rows if (row[1] == COLD) != (tier == COLD)]
            texts = self._texts(recoded)
            retiered, rewritten = [], []
            for memory_id, old_tier, _, blob, scale in rows:
                vector = decode_vector(blob, scale)
                if memory_id not in texts:
                    retiered.append((tier, memory_id))
                    moved.append(Moved(memory_id, old_tier, vector, None, None))
                    continue
                codes: Codes | None = None
                stored_scale: float | None = None
                if tier == COLD:
                    codes, new_scale = quantized(vector)
                    packed, stored_scale = codes.tobytes(), float(new_scale)
                else:
                    packed = float16_bytes(vector)
                text, zlib = pack_text(texts[memory_id], compress=tier == COLD)
                rewritten.append((tier, packed, stored_scale, text, int(zlib), memory_id))
                moved.append(Moved(memory_id, old_tier, vector, codes, stored_scale))
            self.queue_removals([row[0] for row in rows if row[1] == WARM and row[2]])
            self._db.executemany(
                "UPDATE memories SET tier = ?, warm_synced = 0 WHERE id = ?", retiered
            )
            self._db.executemany(
                "UPDATE memories SET tier = ?, warm_synced = 0, vector = ?, vector_scale = ?, "
                "text = ?, text_zlib = ? WHERE id = ?",
                rewritten,
            )
        return moved

    def _texts(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {
            int(row[0]): unpack_text(row[1], bool(row[2]))
            for row in self._db.execute(
                f"SELECT id, text, text_zlib FROM memories WHERE id IN ({marks(ids)})", list(ids)
            )
        }

    # --- the file ---

    def reclaim(self) -> None:
        """Hand freed pages back to the file system and empty the WAL.

        First FTS5 merges its segments, which drops the postings of forgotten
        memories (a deletion only marks them until then)."""
        with self.transaction():
            self._db.execute("INSERT INTO memory_words (memory_words) VALUES ('optimize')")
        # incremental_vacuum frees one page per step, and execute() steps once:
        # executescript steps it to the end.
        self._db.executescript("PRAGMA incremental_vacuum;")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        self.commits_since_checkpoint = 0


def metadata_json(metadata: Mapping[str, MetadataValue]) -> str:
    """A memory's metadata as its column holds it."""
    return json.dumps(dict(metadata), separators=(",", ":"))


def row_bytes(text: str, metadata: Mapping[str, MetadataValue]) -> int:
    """The bytes a new memory's text and metadata take as inserted (uncompressed)."""
    return len(text.encode("utf-8")) + len(metadata_json(metadata).encode("utf-8"))


def _index_value(value: MetadataValue) -> str:
    """A metadata value as indexed: typed, so that 1, 1.0, True and "1" differ."""
    if isinstance(value, bool):
        return f"b:{int(value)}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        return f"f:{value!r}"
    return f"s:{value}"


def _where(filters: RecallFilter) -> tuple[str, list[object]]:
    """The WHERE clause (with its leading space) and parameters for a filter."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.kinds:
        kinds = sorted(filters.kinds)
        clauses.append(f"kind IN ({marks(kinds)})")
        params.extend(kinds)
    if filters.since is not None:
        clauses.append("created_at >= ?")
        params.append(filters.since)
    if filters.until is not None:
        clauses.append("created_at <= ?")
        params.append(filters.until)
    if not filters.include_superseded:
        clauses.append("superseded_at IS NULL")
    for key, value in sorted(filters.metadata.items()):
        clauses.append("id IN (SELECT memory_id FROM metadata_index WHERE key = ? AND value = ?)")
        params.extend((key, _index_value(value)))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _decode(row: tuple[Any, ...]) -> StoredMemory:
    (
        memory_id,
        kind,
        text,
        text_zlib,
        metadata,
        created_at,
        last_accessed,
        access_count,
        base_importance,
        pinned,
        tier,
        superseded_at,
        superseded_by,
        repetitions,
        provenance,
    ) = row
    return StoredMemory(
        id=int(memory_id),
        kind=str(kind),
        text=unpack_text(text, bool(text_zlib)),
        metadata=json.loads(metadata),
        created_at=float(created_at),
        last_accessed=float(last_accessed),
        access_count=int(access_count),
        base_importance=float(base_importance),
        pinned=bool(pinned),
        tier=int(tier),
        superseded_at=None if superseded_at is None else float(superseded_at),
        superseded_by=None if superseded_by is None else int(superseded_by),
        repetitions=int(repetitions),
        provenance=_unpack_provenance(provenance),
    )


def _unpack_provenance(blob: bytes | None) -> tuple[tuple[int, float], ...]:
    if not blob:
        return ()
    entries = np.frombuffer(blob, dtype=_PROVENANCE)
    return tuple(zip(entries["id"].tolist(), entries["created_at"].tolist(), strict=True))
