"""A chromadb collection that follows rows of SQLite, through an outbox.

SQLite decides; chromadb follows (the index's chunks; a user's warm
memories). Each row chromadb follows has a `synced` flag, 0 until its vector
is in chromadb, and a table of removals lists the ids to delete from it. The
service changes both in the transaction that causes them, so that a crash
before chromadb is written loses nothing:

- `flush` replays the outbox: removals first, then the rows chromadb lacks,
  a batch at a time, each marked synced once written;
- `reconcile`, at open, repairs what happened while the service was closed:
  a count that differs (chromadb lost or kept something, or was replaced)
  costs a comparison of ids; what chromadb kept is deleted, and what it lacks
  is unsynced again, for the next flush.

chromadb may fail (a server that is down, a full disk). A service that can
answer without it (the index: its exact search in RAM) runs chromadb's calls
`guarded`: a failure is logged, and chromadb is left alone for RETRY_S.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from noosd.shared.arrays import Matrix
from noosd.shared.chroma import ChromaCollection
from noosd.shared.matrix import IdArray
from noosd.shared.sqlite import Database, batches, marks

# Vectors written to chromadb per transaction, and ids read from the outbox at a time.
FLUSH_BATCH = 4096
# After a failure of a `guarded` call, chromadb is left alone this long (seconds).
RETRY_S = 60.0

_Collection = TypeVar("_Collection", bound=ChromaCollection)
_Result = TypeVar("_Result")

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxSchema:
    """Where a database keeps its outbox, and how it reads a row's vector."""

    # The table of the rows chromadb follows, and their flag: 1 once in chromadb.
    table: str
    synced: str
    # The table of ids to delete from chromadb (one column, `id`).
    removals: str
    # The columns after `id` that `decode` reads a row's vector from.
    vector_columns: str
    decode: Callable[[Sequence[tuple[Any, ...]]], tuple[IdArray, Matrix]]
    # Which of the table's rows chromadb follows (an SQL condition).
    scope: str = "1"


class OutboxDatabase(Database):
    """A `Database` with an outbox (what chromadb lacks, and what it must drop),
    where its subclass's `OUTBOX` says."""

    OUTBOX: ClassVar[OutboxSchema]

    @property
    def _followed(self) -> str:
        return f"{self.OUTBOX.table} WHERE {self.OUTBOX.scope}"

    def unsynced(self, limit: int = -1) -> tuple[IdArray, Matrix]:
        """The oldest `limit` rows (-1: all) not yet in chromadb: ids and vectors."""
        outbox = self.OUTBOX
        rows = self._db.execute(
            f"SELECT id, {outbox.vector_columns} FROM {self._followed} "
            f"AND {outbox.synced} = 0 ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return outbox.decode(rows)

    def unsynced_ids(self) -> list[int]:
        query = f"SELECT id FROM {self._followed} AND {self.OUTBOX.synced} = 0"
        return [int(row[0]) for row in self._db.execute(query)]

    def synced_count(self) -> int:
        query = f"SELECT count(*) FROM {self._followed} AND {self.OUTBOX.synced} = 1"
        return int(self._db.execute(query).fetchone()[0])

    def synced_ids(self) -> set[int]:
        query = f"SELECT id FROM {self._followed} AND {self.OUTBOX.synced} = 1"
        return {int(row[0]) for row in self._db.execute(query)}

    def mark_synced(self, ids: Sequence[int]) -> None:
        self._mark(ids, 1)

    def mark_unsynced(self, ids: Sequence[int]) -> None:
        self._mark(ids, 0)

    def mark_all_unsynced(self) -> None:
        """Forget what chromadb holds (it is being rebuilt): every row unsynced,
        nothing to remove."""
        outbox = self.OUTBOX
        self._db.execute(f"UPDATE {outbox.table} SET {outbox.synced} = 0 WHERE {outbox.synced} = 1")
        self._db.execute(f"DELETE FROM {outbox.removals}")

    def queue_removals(self, ids: Sequence[int]) -> None:
        self._db.executemany(
            f"INSERT OR IGNORE INTO {self.OUTBOX.removals} (id) VALUES (?)", [(i,) for i in ids]
        )

    def pending_removals(self, limit: int = -1) -> list[int]:
        query = f"SELECT id FROM {self.OUTBOX.removals} LIMIT ?"
        return [int(row[0]) for row in self._db.execute(query, (limit,))]

    def clear_removals(self, ids: Sequence[int]) -> None:
        for chunk in batches(ids):
            self._db.execute(
                f"DELETE FROM {self.OUTBOX.removals} WHERE id IN ({marks(chunk)})", chunk
            )

    def _mark(self, ids: Sequence[int], synced: int) -> None:
        outbox = self.OUTBOX
        for chunk in batches(ids):
            self._db.execute(
                f"UPDATE {outbox.table} SET {outbox.synced} = ? "
                f"WHERE {outbox.scope} AND id IN ({marks(chunk)})",
                [synced, *chunk],
            )


def _nothing(ids: list[int]) -> None:
    pass


class ChromaOutbox(Generic[_Collection]):
    """`collection` following the outbox of `db`; used by one thread at a time.

    `marking(ids)` runs in the transaction that marks rows synced (for the
    service's own bookkeeping), `written(ids)` after it commits. Marks are
    `relaxed` where a power cut may lose them: that costs a second write of the
    same vectors, and saves an fsync per batch.
    """

    def __init__(
        self,
        db: OutboxDatabase,
        collection: _Collection,
        *,
        relaxed: bool = False,
        marking: Callable[[list[int]], None] = _nothing,
        written: Callable[[list[int]], None] = _nothing,
    ) -> None:
        self.collection = collection
        self._db = db
        self._relaxed = relaxed
        self._marking = marking
        self._written = written
        self._failed_at: float | None = None

    def flush(self) -> None:
        """Replay the whole outbox: chromadb then holds exactly the rows it follows."""
        self.flush_removals()
        self.write()

    def flush_removals(self) -> None:
        """Delete from chromadb the ids queued for removal."""
        while removals := self._db.pending_removals(FLUSH_BATCH):
            self.collection.delete(removals)
            with self._marks():
                self._db.clear_removals(removals)

    def write(self, limit: int = -1) -> None:
        """Write the rows chromadb lacks, the oldest `limit` of them (-1: all)."""
        done = 0
        while limit < 0 or done < limit:
            batch = FLUSH_BATCH if limit < 0 else min(limit - done, FLUSH_BATCH)
            ids, vectors = self._db.unsynced(batch)
            if not len(ids):
                return
            written = ids.tolist()
            self.collection.upsert(written, vectors)
            with self._marks():
                self._db.mark_synced(written)
                self._marking(written)
            self._written(written)
            done += len(written)

    def reconcile(self) -> list[int]:
        """Bring chromadb in line with SQLite after whatever happened while closed;
        returns the ids that chromadb lacked, unsynced again."""
        if not self._db.synced_count() and self.collection.holds_nothing():
            return []
        self.flush_removals()
        synced = self._db.synced_count()
        if self.collection.count() == synced:
            return []
        present = self.collection.all_ids()
        wanted = self._db.synced_ids()
        self.collection.delete(sorted(present - wanted))
        missing = sorted(wanted - present)
        with self._db.transaction():
            self._db.mark_unsynced(missing)
        _log.info(
            "chromadb's %s lacked %d of %d vectors; writing them again",
            self.collection.collection_name,
            len(missing),
            synced,
        )
        return missing

    @property
    def available(self) -> bool:
        """Whether chromadb is worth asking: no guarded call failed in the last RETRY_S."""
        return self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_S

    def guarded(self, doing: str, call: Callable[[], _Result]) -> _Result | None:
        """`call()`, or None where chromadb failed in the last RETRY_S or fails now."""
        if not self.available:
            return None
        try:
            result = call()
        except Exception:
            # Broad on purpose: a server's client raises its transport's errors,
            # chromadb its own; either way the service goes on without it.
            _log.exception("chromadb failed while %s; retrying in %.0f s", doing, RETRY_S)
            self._failed_at = time.monotonic()
            return None
        self._failed_at = None
        return result

    @contextmanager
    def _marks(self) -> Iterator[None]:
        """The transaction that marks the outbox, relaxed if asked to be."""
        with self._db.relaxed() if self._relaxed else nullcontext(), self._db.transaction():
            yield
