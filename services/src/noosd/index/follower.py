"""chromadb kept in step with SQLite through the outbox, and asked only when it can answer.

Every change commits to SQLite first (chunks with `synced = 0`, ids queued in
`chroma_removals`), then reaches chromadb (`flush`), then is marked done in a
relaxed transaction: lost to a power cut, that mark costs a second write of
the same vectors, nothing else. Opening reconciles whatever happened while
closed (`reconcile`): a crash between a commit and its flush, or a collection
lost or replaced, which is rebuilt from SQLite.

chromadb may fail (a server that is down, a full disk): the engine then goes on
with its exact search in RAM, which holds every vector, and tries chromadb
again after `RETRY_S`. Chunks not yet in chromadb are few after a flush, and
`unsynced` names them, so an approximate search scores them exactly beside
what chromadb returns.
"""

from __future__ import annotations

import logging
import time

from noosd.index.chroma import ChromaIndex
from noosd.index.store import IndexDatabase
from noosd.shared.matrix import IdArray, Vector

# Vectors written to chromadb per call, and ids read from the outbox at a time.
FLUSH_BATCH = 4096
# After a failure, chromadb is left alone this long (seconds).
RETRY_S = 60.0

_log = logging.getLogger(__name__)


class ChromaFollower:
    """chromadb as a follower of the index's SQLite database; used under the engine's lock."""

    def __init__(self, chroma: ChromaIndex, db: IndexDatabase) -> None:
        self.chroma = chroma
        self._db = db
        self.unsynced: set[int] = set()
        self._failed_at: float | None = None

    @property
    def available(self) -> bool:
        """Whether chromadb is worth asking: it has not failed in the last RETRY_S."""
        return self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_S

    def reconcile(self) -> None:
        """Bring chromadb in line with SQLite after whatever happened while closed.

        A count that differs (chromadb lost or kept something) costs a
        comparison of ids; what chromadb lacks is written again.
        """
        self.unsynced = set(self._db.unsynced_ids())
        if not self._db.synced_count() and self.chroma.embedded and not self.chroma.path.exists():
            self.flush()
            return
        try:
            self._flush_removals()
            synced = self._db.synced_count()
            if self.chroma.count() != synced:
                present = self.chroma.all_ids()
                wanted = self._db.synced_ids()
                self.chroma.delete(sorted(present - wanted))
                missing = sorted(wanted - present)
                with self._db.transaction():
                    self._db.mark_unsynced(missing)
                self.unsynced.update(missing)
                _log.info("chromadb lacked %d of %d chunks; writing them", len(missing), synced)
        except Exception:
            self._failed("reconciling")
            return
        self.flush()

    def flush(self) -> None:
        """Replay the outbox: removals first, then the chunks chromadb lacks."""
        if not self.available:
            return
        try:
            self._flush_removals()
            while True:
                ids, vectors = self._db.unsynced(FLUSH_BATCH)
                if not len(ids):
                    break
                self.chroma.upsert(ids.tolist(), vectors)
                with self._db.relaxed(), self._db.transaction():
                    self._db.mark_synced(ids.tolist())
                self.unsynced.difference_update(ids.tolist())
        except Exception:
            self._failed("writing")
            return
        self._failed_at = None

    def nearest(self, query: Vector, k: int) -> tuple[IdArray, Vector] | None:
        """chromadb's k nearest (ids and cosines), or None when it cannot answer."""
        if not self.available:
            return None
        try:
            return self.chroma.top(query, k)
        except Exception:
            self._failed("searching")
            return None

    def _flush_removals(self) -> None:
        while True:
            removals = self._db.pending_removals(FLUSH_BATCH)
            if not removals:
                return
            self.chroma.delete(removals)
            with self._db.relaxed(), self._db.transaction():
                self._db.clear_removals(removals)

    def _failed(self, doing: str) -> None:
        # Broad on purpose: a server's client raises its transport's errors,
        # chromadb its own; either way the exact search in RAM goes on.
        _log.exception(
            "chromadb failed while %s; searching exactly in RAM, retrying in %.0f s",
            doing,
            RETRY_S,
        )
        self._failed_at = time.monotonic()
