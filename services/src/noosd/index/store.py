"""`IndexStore`: the file index of org.noos.Index1, without D-Bus or inotify.

It indexes the files it is given (the watcher and crawler decide which: ignore
rules are theirs) and searches them for a caller. Where things are:

- SQLite (`store`, under state_dir) is the truth: files, chunks, their text
  (FTS5) and their vectors (float16). A change commits there before the call
  returns, in WAL mode with synchronous=FULL, so an acknowledged change
  survives kill -9 and power loss.
- RAM (`noosd.shared.matrix`): every chunk's vector, quantised to int8, by
  chunk id, with its file's id as its group; rebuilt from SQLite at open
  (~2 s per 100,000 chunks).
- chromadb (`chroma`): the same vectors in an HNSW index, for an unfiltered
  search over many chunks; embedded, or a server (`chroma_url`). It follows
  SQLite through an outbox (`noosd.shared.outbox`) and is reconciled at open;
  it may be lost, or unreachable, at any time: the search then stays exact in
  RAM, and chromadb is tried again after `outbox.RETRY_S`.

Indexing a file costs what changed: a file whose size, mtime, ctime and inode
are those indexed is not read; one whose bytes hash as before is not chunked;
otherwise only the chunks whose text is new to it are embedded (`changes`),
and a text any indexed file already has lends its stored vector (a copy, a
file renamed while the service was down, a branch switched back). A rename
moves entries (chunk ids, vectors, first-indexed time) without touching them.
A file that cannot be indexed is skipped with the reason, recorded in
`failures`, and whatever was indexed of it before is dropped. Files on a
removable medium carry its name (`device`) and are hidden, not deleted, when
it goes.

Thread safety: every method may be called from any thread. Searches take the
state lock for their SQL and arithmetic, not for parsing or embedding the
query; writers commit one at a time (the writer lock) and take the state lock
only to plan and to commit. Files are read and embedded holding neither lock
(`index_files`), so a search waits for at most one commit, and a fresh edit
for at most one commit too, not for a crawl's batch of embeddings.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pwd
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import numpy as np

from noos.protocol.errors import InvalidArgument
from noosd.index.core.changes import plan_changes
from noosd.index.core.chunking import Chunk, Unindexable, chunk_file
from noosd.index.core.filetypes import FileType, Format
from noosd.index.core.ignore import SizeLimits
from noosd.index.core.metadata import FileMetadata
from noosd.index.core.model import Indexed, IndexStatus, SearchHit
from noosd.index.core.query import parse_query
from noosd.index.live.sink import Interrupted
from noosd.index.search import Searcher
from noosd.index.storage.access import Caller
from noosd.index.storage.chroma import DEFAULT_COLLECTION, ChromaIndex
from noosd.index.storage.database import FileFilter, IndexDatabase, StoredFile
from noosd.index.storage.reading import OpenedFile, Refused, check_may_read, open_file
from noosd.index.storage.walking import open_parent
from noosd.runtime.health import beat
from noosd.shared.chroma import ChromaError
from noosd.shared.embedding import Embedder
from noosd.shared.matrix import VectorMatrix
from noosd.shared.outbox import ChromaOutbox
from noosd.shared.quarantine import set_aside
from noosd.shared.sqlite import is_corruption

# The facade needs these and the engine alone.
__all__ = ["Caller", "IndexStatus", "IndexStore", "Indexed", "Interrupted", "SearchHit"]

DATABASE_FILE = "index.sqlite3"
CHROMA_DIR = "chroma"
MAX_LIMIT = 100
# A filter that keeps at most this many chunks is searched exactly, by a
# gather and a product of its rows (int8: ~1 ms per 5,000 here); beyond it,
# chromadb's HNSW index answers.
EXACT_MAX_ROWS = 20_000
# Tries at planning a batch without the writer lock before one holds it throughout.
PLAN_TRIES = 3
# Characters of text embedded between two looks at `index_files`'s interrupt:
# ~4 long chunks, ~1 s here, a minute or two in the slowest TCG guest met.
EMBED_SLICE_CHARS = 6000

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Skip:
    """A path not indexed, and why."""

    refused: Refused


@dataclass(frozen=True)
class _Unchanged:
    """A file stat(2) says is as indexed: not even read."""


@dataclass(frozen=True)
class _Read:
    """A file read: its metadata, type, hash, and chunks (None: same bytes as indexed)."""

    metadata: FileMetadata
    file_type: FileType
    content_hash: str
    chunks: tuple[Chunk, ...] | None


_Prepared = _Skip | _Unchanged | _Read


@dataclass(frozen=True)
class _Plan:
    """What writing one path does: the chunks to add (hash to chunk, in file
    order), to keep (hash to stored id, with their new places) and to drop."""

    path: Path
    stored: StoredFile | None
    prepared: _Prepared
    to_add: dict[str, Chunk]
    to_place: dict[str, tuple[int, int, Chunk]]  # hash: (chunk id, ordinal, chunk)
    to_drop: list[int]
    ordinals: dict[str, int]
    kept: int
    stored_chunks: dict[str, int]  # what the plan was made against: hash to chunk id


_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def _afresh_if_damaged(
    method: Callable[Concatenate[IndexStore, _Params], _Result],
) -> Callable[Concatenate[IndexStore, _Params], _Result]:
    """`method`, which on finding the database damaged (by a query, after
    open) sets it aside, starts the store afresh as on open, and runs again,
    on the new, empty index (that the crawl fills again)."""

    @functools.wraps(method)
    def guarded(store: IndexStore, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        generation = store._generation
        try:
            return method(store, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            if not is_corruption(error):
                raise
            store._start_afresh(generation, error)
        return method(store, *args, **kwargs)

    return guarded


class IndexStore:
    """The index kept under `state_dir`; see the module's docstring."""

    def __init__(
        self,
        state_dir: Path,
        embedder: Embedder,
        *,
        clock: Callable[[], float] = time.time,
        chroma_url: str | None = None,
        chroma_collection: str = DEFAULT_COLLECTION,
        limits: SizeLimits | None = None,
        exact_max_rows: int = EXACT_MAX_ROWS,
        before_read: Callable[[Path], None] | None = None,
    ) -> None:
        self.state_dir = state_dir
        # Called with each path just before it is looked at to be read: the
        # seam where a test puts what an attacker does between a check and the read.
        self._before_read = before_read
        self._embedder = embedder
        self._clock = clock
        self._limits = limits or SizeLimits()
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chroma_url = chroma_url
        self._chroma_collection = chroma_collection
        self._exact_max_rows = exact_max_rows
        # Called (on the thread that found it) once a damaged database was set
        # aside and the store started afresh: the service crawls everything again.
        self.on_started_afresh: Callable[[], object] | None = None
        # Rises each time the store starts afresh.
        self._generation = 0
        self._open_state()
        self._state = threading.Lock()
        self._writer = threading.Lock()
        self._closed = False

    def _open_state(self) -> None:
        """Open the database and what follows it: the vectors in RAM, chromadb
        and its outbox, the hidden media, the searcher."""
        state_dir, chroma_url = self.state_dir, self._chroma_url
        self._db = _open_database(state_dir, embedded_chroma=chroma_url is None)
        self._vectors = VectorMatrix(self._embedder.dim, quantized=True, grouped=True)
        chunk_ids, file_ids, vectors = self._db.all_vectors()
        self._vectors.add(chunk_ids.tolist(), vectors, file_ids.tolist())
        chroma = ChromaIndex(state_dir / CHROMA_DIR, chroma_url, self._chroma_collection)
        # Chunks not yet in chromadb: few after a flush, and an approximate
        # search scores them exactly beside what chromadb returns.
        self._unsynced = set(self._db.unsynced_ids())
        # The outbox's marks are relaxed: a power cut costs a second write of
        # the same vectors.
        self._outbox = ChromaOutbox(
            self._db, chroma, relaxed=True, written=self._unsynced.difference_update
        )
        missing = self._outbox.guarded("reconciling", self._outbox.reconcile)
        if missing is not None:
            self._unsynced.update(missing)
            self._flush_outbox()
        self._hidden = self._db.hidden_devices()
        self._searcher = Searcher(
            self._db, self._vectors, self._outbox, self._unsynced, self._exact_max_rows
        )

    def _start_afresh(self, generation: int, error: sqlite3.DatabaseError) -> None:
        """Set the damaged database aside and open a new one, as on open (the
        index is a cache of the files); nothing if the store already started
        afresh since `generation` (another call found the same damage)."""
        with self._writer, self._state:
            if self._closed or generation != self._generation:
                return
            # Damaged files may fail to close; they go aside either way.
            with contextlib.suppress(ChromaError, sqlite3.Error):
                self._outbox.collection.close()
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            _set_aside_database(self.state_dir, error, embedded_chroma=self._chroma_url is None)
            self._open_state()
            self._generation += 1
        if self.on_started_afresh is not None:
            self.on_started_afresh()

    # --- writing ---

    def index_file(
        self, path: Path, *, device: str | None = None, caller: Caller | None = None
    ) -> Indexed:
        """Index (or re-index) the file at `path`, on removable medium `device`,
        for `caller` (IndexFile's: PermissionDenied, nothing written, unless the
        file opened and every directory walked to it are theirs to read and
        search; None: the service's own crawl and watch)."""
        return self.index_files([path], device=device, caller=caller)[0]

    @_afresh_if_damaged
    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
        caller: Caller | None = None,
    ) -> list[Indexed]:
        """Index many files with one embedding batch and one commit (a crawl's
        throughput); one outcome per path, in order. `interrupt`, once set,
        stops the embedding at its next slice with `Interrupted`, nothing
        written (a crawl's batch on a slow machine must not hold up a stop).

        Files are read and embedded holding no lock, and the plan is checked
        against what is stored when it commits: a crawl's batch, embedded at
        the lowest CPU priority, may take minutes on a slow or busy machine
        (a TCG guest: ~0.1 s a token), and a fresh edit must not wait behind
        it (it did: nothing the user wrote was indexed for as long as the
        first crawl's first batch took). A plan that a concurrent write made
        stale is made again, its embeddings kept; after `PLAN_TRIES`, the last
        try holds the writer lock throughout, so that a batch always lands.

        Files are read (and a PDF's text extracted) once, before any try,
        and never under the writer lock: a 64 MiB PDF read on the last try
        held up every other writer for as long. Another try reads again only
        a file that was judged unchanged by what was stored, when that
        changed; on the last try, such a file is left as now stored (another
        writer has just indexed it)."""
        checked = [_absolute(path) for path in paths]
        unique = list(dict.fromkeys(checked))
        judged = self._stored_files(unique)
        prepared = {path: self._prepare(path, judged[path], device, caller) for path in unique}
        fresh: dict[str, np.ndarray] = {}
        for attempt in range(PLAN_TRIES):
            last = attempt == PLAN_TRIES - 1
            if attempt:
                now_stored = self._stored_files(unique)
                for path in unique:
                    if _judged_by_record(prepared[path]) and now_stored[path] != judged[path]:
                        prepared[path] = self._prepare(path, now_stored[path], device, caller)
                judged = now_stored
            with self._writer if last else contextlib.nullcontext():
                plans, reused = self._plan_files(unique, judged, prepared)
                texts = {
                    text_hash: chunk.text
                    for plan in plans
                    for text_hash, chunk in plan.to_add.items()
                    if text_hash not in reused and text_hash not in fresh
                }
                fresh.update(self._embed(texts, interrupt))
                with self._writer if not last else contextlib.nullcontext(), self._state:
                    self._check_open()
                    if last or all(self._still_as_planned(plan) for plan in plans):
                        outcomes = self._commit(plans, reused, fresh, device)
                        return [outcomes[path] for path in checked]
            _log.debug("a concurrent write changed what was planned: planning again")
        raise AssertionError("unreachable: the last try commits")

    def _embed(
        self, texts: dict[str, str], interrupt: threading.Event | None
    ) -> dict[str, np.ndarray]:
        """The texts' vectors (float16) by hash, in slices of EMBED_SLICE_CHARS."""
        hashes = sorted(texts, key=lambda text_hash: len(texts[text_hash]))
        vectors: dict[str, np.ndarray] = {}
        while len(vectors) < len(hashes):
            if interrupt is not None and interrupt.is_set():
                left = len(hashes) - len(vectors)
                raise Interrupted(f"interrupted with {left} texts left to embed")
            piece: list[str] = []
            size = 0
            for text_hash in hashes[len(vectors) :]:
                if piece and size + len(texts[text_hash]) > EMBED_SLICE_CHARS:
                    break
                piece.append(text_hash)
                size += len(texts[text_hash])
            embedded = self._embedder.embed([texts[text_hash] for text_hash in piece])
            vectors.update(zip(piece, np.asarray(embedded, np.float16), strict=True))
        return vectors

    def _stored_files(self, paths: list[Path]) -> dict[Path, StoredFile | None]:
        with self._state:
            self._check_open()
            return {path: self._db.stored_file(os.fsencode(path)) for path in paths}

    def _plan_files(
        self,
        paths: list[Path],
        judged: dict[Path, StoredFile | None],
        prepared: dict[Path, _Prepared],
    ) -> tuple[list[_Plan], dict[str, bytes]]:
        """Each prepared path planned against what is stored, and the stored
        vectors of the texts to add that some file has already. A path
        prepared by what was stored (`judged`), which has changed since, is
        left as it is now stored."""
        with self._state:
            self._check_open()
            plans = []
            for path in paths:
                stored = self._db.stored_file(os.fsencode(path))
                ready = prepared[path]
                if _judged_by_record(ready) and stored != judged[path]:
                    ready = _Unchanged()
                plans.append(self._plan(path, stored, ready))
            reused = self._db.vectors_by_hash(
                {text_hash for plan in plans for text_hash in plan.to_add}
            )
        return plans, reused

    def _still_as_planned(self, plan: _Plan) -> bool:
        """Whether what is stored for the plan's path is what it was planned
        against (under the state lock)."""
        stored = self._db.stored_file(os.fsencode(plan.path))
        if stored != plan.stored:
            return False
        return stored is None or self._db.chunk_ids_by_hash(stored.id) == plan.stored_chunks

    @_afresh_if_damaged
    def forget(self, path: Path) -> int:
        """Remove the file at `path`, or everything under it as a directory, from
        the index (SQLite, RAM and chromadb); returns how many files."""
        encoded = os.fsencode(_absolute(path))
        with self._writer, self._state:
            self._check_open()
            file_ids = [file_id for file_id, _ in self._db.files_at_or_under(encoded)]
            with self._db.transaction():
                removed = self._db.delete_files(file_ids)
                self._db.clear_failures_at_or_under(encoded)
            self._drop_in_ram(removed)
            self._flush_outbox()
        return len(file_ids)

    @_afresh_if_damaged
    def rename(self, old: Path, new: Path) -> int:
        """Move the file at `old`, or everything under it as a directory, to
        `new`: entries keep their chunks, vectors and history, nothing is
        embedded. A file indexed at a new path is replaced (a rename over it).
        Returns how many files moved (0: nothing was indexed at `old`)."""
        source, target = os.fsencode(_absolute(old)), os.fsencode(_absolute(new))
        if source == target:
            return 0
        if _contains(source, target) or _contains(target, source):
            raise InvalidArgument(f"cannot rename {old} to {new}: one is inside the other")
        with self._writer, self._state:
            self._check_open()
            moving = self._db.files_at_or_under(source)
            moves = [(file_id, target + path[len(source) :]) for file_id, path in moving]
            replaced = [file_id for file_id, _ in self._db.files_at_or_under(target)]
            with self._db.transaction():
                removed = self._db.delete_files(replaced)
                self._db.set_paths(moves)
                self._db.clear_failures_at_or_under(source)
            self._drop_in_ram(removed)
            self._flush_outbox()
        return len(moves)

    @_afresh_if_damaged
    def set_device_visible(self, device: str, visible: bool) -> None:
        """Show or hide the files on removable medium `device` (hidden ones stay indexed)."""
        if not isinstance(device, str) or not device:
            raise InvalidArgument("a device is named by a non-empty string")
        with self._state:
            self._check_open()
            with self._db.transaction():
                self._db.set_hidden(device, hidden=not visible)
            self._hidden = self._db.hidden_devices()

    # --- reading ---

    @_afresh_if_damaged
    def search(
        self,
        query: str,
        limit: int,
        caller: Caller,
        *,
        now: float | None = None,
        home: Path | None = None,
    ) -> list[SearchHit]:
        """The best `limit` files for `query` that `caller` could open now.

        The query's filters in words (times, types, places: `query`) are read
        as asked at `now` (default: the clock) by a user whose home is `home`
        (default: the caller's, from the password database). A query of
        filters alone lists their files newest first.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidArgument(f"a limit is an integer from 1 to {MAX_LIMIT}, not {limit!r}")
        asked = datetime.fromtimestamp(self._clock() if now is None else now)
        parsed = parse_query(query, asked, home or _home_of(caller.uid))
        where = FileFilter(
            since=parsed.since,
            until=parsed.until,
            languages=parsed.languages,
            under=tuple(os.fsencode(prefix) for prefix in parsed.path_prefixes),
            hidden_devices=self._hidden,
        )
        if not parsed.text.strip():
            if where.is_everything:
                raise InvalidArgument("a query needs words to search for, or a filter")
            with self._state:
                self._check_open()
                return self._searcher.by_filters(where, limit, caller)
        vector = self._embedder.embed([parsed.text])[0]
        with self._state:
            self._check_open()
            return self._searcher.by_meaning(parsed.text, vector, where, limit, caller)

    @_afresh_if_damaged
    def status(self) -> IndexStatus:
        with self._state:
            self._check_open()
            files, chunks, failed = self._db.counts()
        return IndexStatus(files, chunks, failed, _directory_bytes(self.state_dir))

    @_afresh_if_damaged
    def counts_under(self, directories: Sequence[Path]) -> tuple[int, int]:
        """Files indexed and files that failed under `directories` (any of them)."""
        outermost = [d for d in directories if not any(o in d.parents for o in directories)]
        encoded = [os.fsencode(_absolute(directory)) for directory in set(outermost)]
        with self._state:
            self._check_open()
            return self._db.counts_under(encoded)

    @_afresh_if_damaged
    def failures(self, limit: int = 100) -> list[tuple[str, str]]:
        """The files that could not be indexed, (path, reason), the newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidArgument(f"a limit is a non-negative integer, not {limit!r}")
        with self._state:
            self._check_open()
            return [(os.fsdecode(path), reason) for path, reason in self._db.failures(limit)]

    @_afresh_if_damaged
    def indexed_paths(self, directory: Path) -> list[Path]:
        """The indexed files under `directory`, in byte order of their paths: what
        a crawl compares with what it finds, to forget the files gone meanwhile."""
        encoded = os.fsencode(_absolute(directory))
        with self._state:
            self._check_open()
            return [Path(os.fsdecode(path)) for path in self._db.paths_under(encoded)]

    def close(self) -> None:
        """Write what chromadb lacks (if it can) and close the files; idempotent."""
        with self._writer, self._state:
            if self._closed:
                return
            self._closed = True
            self._flush_outbox()
            self._outbox.collection.close()
            self._db.close()

    # --- the steps of indexing ---

    def _prepare(
        self, path: Path, stored: StoredFile | None, device: str | None, caller: Caller | None
    ) -> _Prepared:
        """Read and chunk a file as far as it changed; no lock is held."""
        beat()
        if self._before_read is not None:
            self._before_read(path)
        parent = open_parent(path, caller)
        if isinstance(parent, Refused):
            return _Skip(parent)
        with parent:
            status = parent.lstat()
            if isinstance(status, Refused):
                return _Skip(status)
            check_may_read(status, path, caller)
            if stored is not None and device == stored.device and _same_stat(stored, status):
                return _Unchanged()
            with open_file(path, parent, status, self._limits, caller) as opened:
                if isinstance(opened, Refused):
                    return _Skip(opened)
                return self._read(path, opened, stored)

    def _read(self, path: Path, opened: OpenedFile, stored: StoredFile | None) -> _Prepared:
        """Hash an open file, and chunk it unless its bytes are as indexed."""
        whole = opened.content_hash()
        if isinstance(whole, Refused):
            return _Skip(whole)
        if stored is not None and whole == stored.content_hash:
            return _Read(opened.metadata, opened.file_type, whole, None)
        is_pdf = opened.file_type.format is Format.PDF
        try:
            chunks = chunk_file(
                opened.rewound() if is_pdf else opened.data(),
                opened.file_type,
                max_pdf_text_chars=self._limits.max_pdf_text_chars,
            )
        except Unindexable as error:
            return _Skip(Refused(str(error)))
        except Exception as error:
            # A bug met on one file must not stop a crawl: it is logged, and
            # the file is recorded as failed, with the error.
            _log.exception("chunking %r failed", path)
            return _Skip(Refused(f"could not be chunked ({type(error).__name__}: {error})"))
        return _Read(opened.metadata, opened.file_type, whole, chunks)

    def _plan(self, path: Path, stored: StoredFile | None, prepared: _Prepared) -> _Plan:
        """What to write for a prepared path, against what is stored (under the lock)."""
        stored_ids = {} if stored is None else self._db.chunk_ids_by_hash(stored.id)
        to_add: dict[str, Chunk] = {}
        to_place: dict[str, tuple[int, int, Chunk]] = {}
        ordinals: dict[str, int] = {}
        to_drop: list[int] = []
        kept = 0
        if isinstance(prepared, _Skip):
            to_drop = list(stored_ids.values())
        elif isinstance(prepared, _Read) and prepared.chunks is not None:
            changes = plan_changes(stored_ids, prepared.chunks)
            to_add = {chunk.content_hash: chunk for chunk in changes.to_embed}
            for chunk in prepared.chunks:
                ordinal = ordinals.setdefault(chunk.content_hash, len(ordinals))
                if chunk.content_hash in changes.to_keep and chunk.content_hash not in to_place:
                    to_place[chunk.content_hash] = (stored_ids[chunk.content_hash], ordinal, chunk)
            to_drop = [stored_ids[text_hash] for text_hash in changes.to_drop]
            kept = len(to_place)
        else:
            kept = len(stored_ids)
        return _Plan(path, stored, prepared, to_add, to_place, to_drop, ordinals, kept, stored_ids)

    def _commit(
        self,
        plans: list[_Plan],
        reused: dict[str, bytes],
        fresh: dict[str, np.ndarray],
        device: str | None,
    ) -> dict[Path, Indexed]:
        """Write every plan in one transaction, then follow it in RAM and chromadb."""
        now = self._clock()
        outcomes: dict[Path, Indexed] = {}
        added: list[tuple[int, int, bytes]] = []  # chunk id, file id, float16 vector
        dropped: list[int] = []
        embedded_once: set[str] = set()
        with self._db.transaction():
            for plan in plans:
                encoded = os.fsencode(plan.path)
                prepared = plan.prepared
                if isinstance(prepared, _Skip):
                    if plan.stored is not None:
                        dropped += self._db.delete_files([plan.stored.id])
                    if prepared.refused.vanished:
                        self._db.clear_failure(encoded)
                    else:
                        self._db.record_failure(encoded, prepared.refused.reason, now)
                    outcomes[plan.path] = Indexed(
                        str(plan.path), 0, 0, len(plan.to_drop), prepared.refused.reason
                    )
                    continue
                embedded = 0
                if isinstance(prepared, _Read):
                    file_type = prepared.file_type
                    file_id = self._db.upsert_file(
                        encoded,
                        prepared.metadata,
                        file_type.category.value,
                        prepared.content_hash,
                        device,
                        now,
                    )
                    self._db.delete_chunks(plan.to_drop)
                    dropped += plan.to_drop
                    for chunk_id, ordinal, chunk in plan.to_place.values():
                        self._db.place_chunk(chunk_id, ordinal, chunk)
                    for text_hash, chunk in plan.to_add.items():
                        if text_hash in reused:
                            vector = reused[text_hash]
                        else:
                            vector = fresh[text_hash].tobytes()
                            embedded += text_hash not in embedded_once
                            embedded_once.add(text_hash)
                        chunk_id = self._db.insert_chunk(
                            file_id, plan.ordinals[text_hash], chunk, vector
                        )
                        added.append((chunk_id, file_id, vector))
                    self._db.clear_failure(encoded)
                kept = plan.kept + len(plan.to_add) - embedded
                outcomes[plan.path] = Indexed(
                    str(plan.path), embedded, kept, len(plan.to_drop), None
                )
        self._drop_in_ram(dropped)
        if added:
            vectors = np.frombuffer(b"".join(v for _, _, v in added), dtype=np.float16)
            self._vectors.add(
                [chunk_id for chunk_id, _, _ in added],
                vectors.reshape(len(added), -1).astype(np.float32),
                [file_id for _, file_id, _ in added],
            )
            self._unsynced.update(chunk_id for chunk_id, _, _ in added)
        self._flush_outbox()
        return outcomes

    def _drop_in_ram(self, chunk_ids: list[int]) -> None:
        """Follow in RAM the deletion of chunks that SQLite committed."""
        self._vectors.remove(chunk_ids)
        self._unsynced.difference_update(chunk_ids)

    def _flush_outbox(self) -> None:
        """Write to chromadb what it lacks, unless it is failing (the outbox waits)."""
        self._outbox.guarded("writing", self._outbox.flush)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the index engine is closed")


def _judged_by_record(prepared: _Prepared) -> bool:
    """Whether what was stored decided what was prepared: unchanged, by stat or by bytes."""
    return isinstance(prepared, _Unchanged) or (
        isinstance(prepared, _Read) and prepared.chunks is None
    )


def _absolute(path: Path) -> Path:
    if not isinstance(path, Path) or not path.is_absolute():
        raise InvalidArgument(f"an absolute path is needed, not {path!r}")
    return path


def _contains(directory: bytes, path: bytes) -> bool:
    return path.startswith(directory.rstrip(b"/") + b"/")


def _same_stat(stored: StoredFile, status: os.stat_result) -> bool:
    """Whether the file is the one indexed, unchanged: the ctime changes on every
    write and chmod and cannot be set back, so a restored mtime does not fool it."""
    return (stored.size, stored.mtime, stored.ctime, stored.st_dev, stored.inode) == (
        status.st_size,
        status.st_mtime,
        status.st_ctime,
        status.st_dev,
        status.st_ino,
    )


def _home_of(uid: int) -> Path:
    try:
        return Path(pwd.getpwuid(uid).pw_dir)
    except KeyError:
        # A uid without an entry has no home: no place under it exists.
        return Path("/nonexistent")


def _directory_bytes(directory: Path) -> int:
    """The bytes of the files under a directory (files that vanish meanwhile are skipped)."""
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total


def _open_database(state_dir: Path, *, embedded_chroma: bool) -> IndexDatabase:
    """The index's database; a damaged one is set aside (`_set_aside_database`)
    and a new one made: the index is a cache of the file system, and the crawl
    fills it again."""
    path = state_dir / DATABASE_FILE
    try:
        return IndexDatabase(path)
    except sqlite3.DatabaseError as error:
        if not is_corruption(error):
            raise
        _set_aside_database(state_dir, error, embedded_chroma=embedded_chroma)
        return IndexDatabase(path)


def _set_aside_database(
    state_dir: Path, error: sqlite3.DatabaseError, *, embedded_chroma: bool
) -> None:
    """Set aside the damaged database, with its WAL and an embedded chromadb,
    whose ids are the damaged file's."""
    path = state_dir / DATABASE_FILE
    damaged = [path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))]
    if embedded_chroma:
        damaged.append(state_dir / CHROMA_DIR)
    for item in damaged:
        if item.exists():
            set_aside(item, f"{error}; the crawl indexes the files again")
