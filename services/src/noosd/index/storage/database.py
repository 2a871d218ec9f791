"""The index in SQLite: the source of truth of org.noos.Index1.

Everything the index knows is here, so the RAM matrix and chromadb can always
be rebuilt from it:

- `files`: one row per indexed file: its path (as bytes: any name a file
  system allows, valid UTF-8 or not), owner, group and mode as indexed, type,
  size, times, st_dev and inode, the hash of its whole content, and the
  removable medium (`device`) it is on. Indexed by mtime and language, the
  columns of a query's filters, so that a filter selects its files without a
  scan; a path prefix is a range of the path's unique index.
- `chunks`: one row per distinct text of a file (two chunks of one file with
  the same text are one row, at the first one's place): where it is (ordinal,
  lines, page), the hash of its text, and its vector as float16 (half of
  float32; cosines within ~1e-3). Ids are never reused (AUTOINCREMENT): they
  name the vectors in chromadb, where a stale entry must never be taken for
  a new chunk.
- `chunk_text`: FTS5 over each chunk's text (rowid = chunk id; Porter
  stemming over unicode61), whose posting lists make the lexical ranking
  (`lexical`). The text is kept there only.
- `failures`: the files that could not be indexed, with why and when.
- `hidden_devices`: removable media whose files are hidden from searches (not
  deleted: they come back when the medium does).

The database runs in WAL mode with synchronous=FULL: a change that committed
survives kill -9 and power loss. Two columns keep chromadb in step (an
outbox): a chunk with `synced = 0` is not yet in chromadb, and
`chroma_removals` lists ids to delete from it; both change in the transaction
that causes them, so a crash before chromadb is written loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from noosd.index.core.chunking import Chunk
from noosd.index.core.metadata import FileMetadata
from noosd.shared.lexical import FTS_TOKENIZE
from noosd.shared.outbox import OutboxDatabase, OutboxSchema
from noosd.shared.sqlite import batches, marks

SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path BLOB NOT NULL UNIQUE,        -- os.fsencode(path)
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mode INTEGER NOT NULL,            -- the permission bits
    mime TEXT NOT NULL,
    language TEXT NOT NULL,
    category TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    ctime REAL NOT NULL,
    st_dev INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    content_hash TEXT NOT NULL,       -- chunking.content_hash of the whole file
    device TEXT,                      -- the removable medium; NULL: a fixed disk
    first_indexed REAL NOT NULL,      -- kept across renames and edits
    indexed_at REAL NOT NULL
);
CREATE INDEX files_by_mtime ON files (mtime);
CREATE INDEX files_by_language ON files (language, mtime);
CREATE INDEX files_by_device ON files (device) WHERE device IS NOT NULL;
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,         -- its place among the file's distinct texts
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    page INTEGER,
    hash TEXT NOT NULL,               -- Chunk.content_hash
    vector BLOB NOT NULL,             -- float16
    synced INTEGER NOT NULL           -- already in chromadb
);
CREATE UNIQUE INDEX chunks_by_file ON chunks (file_id, hash);
-- The same text in another file lends its vector: a copy is never embedded.
CREATE INDEX chunks_by_hash ON chunks (hash);
CREATE INDEX chunks_unsynced ON chunks (id) WHERE synced = 0;
CREATE VIRTUAL TABLE chunk_text USING fts5 (
    text,
    tokenize = '{FTS_TOKENIZE}'
);
CREATE TABLE chroma_removals (id INTEGER PRIMARY KEY);
CREATE TABLE failures (
    path BLOB PRIMARY KEY,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX failures_by_time ON failures (at);
CREATE TABLE hidden_devices (device TEXT PRIMARY KEY);
"""

# The WAL is truncated back to this after a checkpoint.
_WAL_LIMIT_BYTES = 16 * 1024 * 1024

IdArray = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class StoredFile:
    """What decides whether a file changed since it was indexed."""

    id: int
    size: int
    mtime: float
    ctime: float
    st_dev: int
    inode: int
    content_hash: str
    device: str | None


@dataclass(frozen=True)
class FileRow:
    """A file as a search shows it."""

    id: int
    path: bytes
    mtime: float
    language: str
    device: str | None
    st_dev: int  # the identity of the file that was read: the
    inode: int  # search shows its text only while the path leads to it

    @property
    def identity(self) -> tuple[int, int]:
        return (self.st_dev, self.inode)


@dataclass(frozen=True)
class StoredChunk:
    """A chunk's place and text, enough to cut a snippet from."""

    file_id: int
    chunk: Chunk


@dataclass(frozen=True)
class FileFilter:
    """The files a search may return: modified in [since, until), of one of
    `languages` (empty: any), under one of the directories `under` (os.fsencode'd;
    empty: anywhere), and not on a hidden medium."""

    since: float | None = None
    until: float | None = None
    languages: frozenset[str] = frozenset()
    under: tuple[bytes, ...] = ()
    hidden_devices: frozenset[str] = frozenset()

    @property
    def is_everything(self) -> bool:
        return self == FileFilter(hidden_devices=frozenset())

    def where(self) -> tuple[str, list[object]]:
        """An SQL condition on `files` (true when there is none), and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        if self.since is not None:
            clauses.append("files.mtime >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("files.mtime < ?")
            params.append(self.until)
        if self.languages:
            languages = sorted(self.languages)
            clauses.append(f"files.language IN ({marks(languages)})")
            params.extend(languages)
        if self.under:
            ranges = []
            for directory in self.under:
                low, high = subtree_range(directory)
                ranges.append("(files.path >= ? AND files.path < ?)")
                params.extend((low, high))
            clauses.append("(" + " OR ".join(ranges) + ")")
        if self.hidden_devices:
            hidden = sorted(self.hidden_devices)
            clauses.append(f"(files.device IS NULL OR files.device NOT IN ({marks(hidden)}))")
            params.extend(hidden)
        return (" AND ".join(clauses) or "1"), params


def subtree_range(directory: bytes) -> tuple[bytes, bytes]:
    """[low, high): the paths strictly under `directory`, as a range of byte strings.

    "/a/b/" up to "/a/b0": "0" is the byte after "/", so the range holds
    exactly the paths that start with "/a/b/" (and not "/a/bc").
    """
    base = directory.rstrip(b"/")
    return base + b"/", base + b"0"


def _decode_vectors(rows: Sequence[tuple[Any, ...]]) -> tuple[IdArray, IdArray, Matrix]:
    """Ids, file ids and float32 vectors from (id, file id, float16 blob) rows."""
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    file_ids = np.array([row[1] for row in rows], dtype=np.int64)
    if not rows:
        return ids, file_ids, np.empty((0, 0), dtype=np.float32)
    dim = len(rows[0][2]) // 2
    halves = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float16)
    return ids, file_ids, halves.reshape(len(rows), dim).astype(np.float32)


def _decode_unsynced(rows: Sequence[tuple[Any, ...]]) -> tuple[IdArray, Matrix]:
    """Ids and float32 vectors from the outbox's (id, file id, float16 blob) rows."""
    ids, _, vectors = _decode_vectors(rows)
    return ids, vectors


class IndexDatabase(OutboxDatabase):
    """The index's SQLite database; used from several threads, one at a time
    (under the engine's lock)."""

    # chromadb follows every chunk.
    OUTBOX = OutboxSchema(
        table="chunks",
        synced="synced",
        removals="chroma_removals",
        vector_columns="file_id, vector",
        decode=_decode_unsynced,
    )

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            settings={"journal_size_limit": _WAL_LIMIT_BYTES},
            # Damage is found on open, where the store can set the file aside.
            verify=True,
        )

    # --- files ---

    def stored_file(self, path: bytes) -> StoredFile | None:
        row = self._db.execute(
            "SELECT id, size, mtime, ctime, st_dev, inode, content_hash, device "
            "FROM files WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else StoredFile(*row)

    def upsert_file(
        self,
        path: bytes,
        metadata: FileMetadata,
        category: str,
        content_hash: str,
        device: str | None,
        now: float,
    ) -> int:
        """Insert or update the file at `path`; returns its id (kept when it existed)."""
        row = self._db.execute(
            "INSERT INTO files (path, uid, gid, mode, mime, language, category, size, mtime, "
            "ctime, st_dev, inode, content_hash, device, first_indexed, indexed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (path) DO UPDATE SET uid = excluded.uid, gid = excluded.gid, "
            "mode = excluded.mode, mime = excluded.mime, language = excluded.language, "
            "category = excluded.category, size = excluded.size, mtime = excluded.mtime, "
            "ctime = excluded.ctime, st_dev = excluded.st_dev, inode = excluded.inode, "
            "content_hash = excluded.content_hash, device = excluded.device, "
            "indexed_at = excluded.indexed_at "
            "RETURNING id",
            (
                path,
                metadata.uid,
                metadata.gid,
                metadata.mode,
                metadata.mime,
                metadata.language,
                category,
                metadata.size,
                metadata.mtime,
                metadata.ctime,
                metadata.device,
                metadata.inode,
                content_hash,
                device,
                now,
                now,
            ),
        ).fetchone()
        return int(row[0])

    def files_at_or_under(self, path: bytes) -> list[tuple[int, bytes]]:
        """(id, path) of the file at `path` and of every file under it as a directory."""
        low, high = subtree_range(path)
        return [
            (int(row[0]), bytes(row[1]))
            for row in self._db.execute(
                "SELECT id, path FROM files WHERE path = ? OR (path >= ? AND path < ?)",
                (path, low, high),
            )
        ]

    def paths_under(self, directory: bytes) -> list[bytes]:
        low, high = subtree_range(directory)
        return [
            bytes(row[0])
            for row in self._db.execute(
                "SELECT path FROM files WHERE path >= ? AND path < ? ORDER BY path", (low, high)
            )
        ]

    def set_paths(self, moves: Sequence[tuple[int, bytes]]) -> None:
        """Give files (by id) new paths; none of the new paths may be taken."""
        self._db.executemany("UPDATE files SET path = ? WHERE id = ?", [(p, i) for i, p in moves])

    def delete_files(self, file_ids: Sequence[int]) -> list[int]:
        """Delete files and their chunks (queued for removal from chromadb);
        returns the ids of the chunks deleted."""
        removed: list[int] = []
        for chunk in batches(file_ids):
            removed += [
                int(row[0])
                for row in self._db.execute(
                    f"SELECT id FROM chunks WHERE file_id IN ({marks(chunk)})", chunk
                )
            ]
            self._db.execute(f"DELETE FROM files WHERE id IN ({marks(chunk)})", chunk)
        self.delete_chunks(removed)
        return removed

    def file_rows(self, file_ids: Sequence[int]) -> dict[int, FileRow]:
        rows: dict[int, FileRow] = {}
        for chunk in batches(file_ids):
            for row in self._db.execute(
                "SELECT id, path, mtime, language, device, st_dev, inode FROM files "
                f"WHERE id IN ({marks(chunk)})",
                chunk,
            ):
                rows[int(row[0])] = FileRow(int(row[0]), bytes(row[1]), *row[2:])
        return rows

    def file_owners(self) -> tuple[IdArray, IdArray]:
        """Every file's id and owner (uid), for the owners kept in RAM."""
        rows = self._db.execute("SELECT id, uid FROM files").fetchall()
        ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        uids = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        return ids, uids

    def matching_files(self, where: FileFilter) -> IdArray:
        """The ids of the files that `where` lets through."""
        clause, params = where.where()
        rows = self._db.execute(f"SELECT id FROM files WHERE {clause}", params).fetchall()
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))

    def newest_files(self, where: FileFilter, limit: int, offset: int) -> list[int]:
        """The ids of the files that `where` lets through, the most recently modified first."""
        clause, params = where.where()
        return [
            int(row[0])
            for row in self._db.execute(
                f"SELECT id FROM files WHERE {clause} ORDER BY mtime DESC, id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            )
        ]

    # --- chunks ---

    def chunk_ids_by_hash(self, file_id: int) -> dict[str, int]:
        return {
            str(row[0]): int(row[1])
            for row in self._db.execute("SELECT hash, id FROM chunks WHERE file_id = ?", (file_id,))
        }

    def vectors_by_hash(self, hashes: Iterable[str]) -> dict[str, bytes]:
        """The stored float16 vector of each of these texts that any file has."""
        found: dict[str, bytes] = {}
        for chunk in batches(list(hashes)):
            for text_hash, vector in self._db.execute(
                f"SELECT hash, vector FROM chunks WHERE hash IN ({marks(chunk)}) GROUP BY hash",
                chunk,
            ):
                found[str(text_hash)] = bytes(vector)
        return found

    def insert_chunk(self, file_id: int, ordinal: int, chunk: Chunk, vector: bytes) -> int:
        """A new chunk, not yet in chromadb; returns its id."""
        row = self._db.execute(
            "INSERT INTO chunks (file_id, ordinal, start_line, end_line, page, hash, vector, "
            "synced) VALUES (?, ?, ?, ?, ?, ?, ?, 0) RETURNING id",
            (
                file_id,
                ordinal,
                chunk.start_line,
                chunk.end_line,
                chunk.page,
                chunk.content_hash,
                vector,
            ),
        ).fetchone()
        chunk_id = int(row[0])
        self._db.execute(
            "INSERT INTO chunk_text (rowid, text) VALUES (?, ?)", (chunk_id, chunk.text)
        )
        return chunk_id

    def place_chunk(self, chunk_id: int, ordinal: int, chunk: Chunk) -> None:
        """Where a kept chunk is now (lines inserted above it move it)."""
        self._db.execute(
            "UPDATE chunks SET ordinal = ?, start_line = ?, end_line = ?, page = ? WHERE id = ?",
            (ordinal, chunk.start_line, chunk.end_line, chunk.page, chunk_id),
        )

    def delete_chunks(self, chunk_ids: Sequence[int]) -> None:
        """Delete chunks and their text, and queue them for removal from chromadb."""
        for chunk in batches(chunk_ids):
            in_batch = marks(chunk)
            self._db.execute(f"DELETE FROM chunks WHERE id IN ({in_batch})", chunk)
            self._db.execute(f"DELETE FROM chunk_text WHERE rowid IN ({in_batch})", chunk)
            self.queue_removals(chunk)

    def all_vectors(self) -> tuple[IdArray, IdArray, Matrix]:
        """Every chunk's id, file id and vector (float32), for the RAM matrix."""
        rows = self._db.execute("SELECT id, file_id, vector FROM chunks").fetchall()
        return _decode_vectors(rows)

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
        found: dict[int, StoredChunk] = {}
        for chunk in batches(chunk_ids):
            for row in self._db.execute(
                "SELECT chunks.id, file_id, start_line, end_line, page, chunk_text.text "
                "FROM chunks JOIN chunk_text ON chunk_text.rowid = chunks.id "
                f"WHERE chunks.id IN ({marks(chunk)})",
                chunk,
            ):
                chunk_id, file_id, start, end, page, text = row
                found[int(chunk_id)] = StoredChunk(int(file_id), Chunk(text, start, end, page))
        return found

    def first_chunks(self, file_ids: Sequence[int]) -> dict[int, int]:
        """The id of each file's first chunk (files without chunks left out)."""
        found: dict[int, int] = {}
        for chunk in batches(file_ids):
            for file_id, chunk_id in self._db.execute(
                f"SELECT file_id, id FROM chunks WHERE ordinal = 0 AND file_id IN ({marks(chunk)})",
                chunk,
            ):
                found[int(file_id)] = int(chunk_id)
        return found

    def postings(self, term: str, limit: int) -> IdArray | None:
        """The ids of the chunks that the FTS5 query `term` finds, or None when
        there are more than `limit` (counted in SQLite: a common word costs
        microseconds, not a read of its ids into Python)."""
        (count,) = self._db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM chunk_text WHERE chunk_text MATCH ? LIMIT ?)",
            (term, limit + 1),
        ).fetchone()
        if count > limit:
            return None
        rows = self._db.execute("SELECT rowid FROM chunk_text WHERE chunk_text MATCH ?", (term,))
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=count)

    # --- failures ---

    def record_failure(self, path: bytes, reason: str, at: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO failures (path, reason, at) VALUES (?, ?, ?)",
            (path, reason, at),
        )

    def clear_failure(self, path: bytes) -> None:
        self._db.execute("DELETE FROM failures WHERE path = ?", (path,))

    def clear_failures_at_or_under(self, path: bytes) -> None:
        low, high = subtree_range(path)
        self._db.execute(
            "DELETE FROM failures WHERE path = ? OR (path >= ? AND path < ?)", (path, low, high)
        )

    def failures(self, limit: int) -> list[tuple[bytes, str]]:
        return [
            (bytes(row[0]), str(row[1]))
            for row in self._db.execute(
                "SELECT path, reason FROM failures ORDER BY at DESC, rowid DESC LIMIT ?", (limit,)
            )
        ]

    # --- removable media ---

    def hidden_devices(self) -> frozenset[str]:
        return frozenset(
            str(row[0]) for row in self._db.execute("SELECT device FROM hidden_devices")
        )

    def set_hidden(self, device: str, hidden: bool) -> None:
        if hidden:
            self._db.execute("INSERT OR IGNORE INTO hidden_devices (device) VALUES (?)", (device,))
        else:
            self._db.execute("DELETE FROM hidden_devices WHERE device = ?", (device,))

    # --- counts ---

    def counts_under(self, directories: Sequence[bytes]) -> tuple[int, int]:
        """Files and failures under any of `directories` (none inside another)."""
        files = failures = 0
        for directory in directories:
            low, high = subtree_range(directory)
            row = self._db.execute(
                "SELECT (SELECT count(*) FROM files WHERE path >= ?1 AND path < ?2), "
                "(SELECT count(*) FROM failures WHERE path >= ?1 AND path < ?2)",
                (low, high),
            ).fetchone()
            files, failures = files + int(row[0]), failures + int(row[1])
        return files, failures

    def counts(self) -> tuple[int, int, int]:
        """Files, chunks and failures."""
        row = self._db.execute(
            "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM chunks), "
            "(SELECT count(*) FROM failures)"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])
