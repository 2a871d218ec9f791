"""The warm tier: one user's vectors in chromadb's HNSW index, searched approximately.

Each user has an embedded chromadb `PersistentClient` of their own, holding one
collection in cosine space without an embedding function: vectors come from
the store's embedder, and chromadb keeps only ids and vectors (texts and
metadata live in SQLite). A client per user keeps users' files apart, makes
their size exact, and lets a collection be rebuilt by deleting its directory:
chromadb never reuses the slots of deleted vectors, nor removes the files of a
deleted collection.

The index is a cache of SQLite: the store can always rebuild it, and does
when chromadb fails to open or search it (`set_aside`). chromadb's
`where` filters are slow at this size, so none is used: the store asks for
more neighbours and lets SQLite filter them.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from noosd.memory.core.codec import Matrix
from noosd.memory.core.ids import format_id
from noosd.shared.chroma import ChromaCollection, ChromaError, chromadb_calls, persistent_client
from noosd.shared.matrix import IdArray
from noosd.shared.quarantine import set_aside

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

COLLECTION = "memories"


class WarmIndex(ChromaCollection):
    """A user's chromadb collection at `path`, opened on first use."""

    def __init__(self, path: Path) -> None:
        super().__init__(COLLECTION)
        self.path = path

    def top(self, queries: Matrix, k: int) -> tuple[list[IdArray], list[Matrix]]:
        """The ids and cosines of up to k nearest vectors for each query, nearest first."""
        with chromadb_calls():
            result = self._open().query(
                query_embeddings=np.asarray(queries, dtype=np.float32),
                n_results=k,
                include=["distances"],
            )
        distances = result["distances"] or []
        ids = [np.array([self._id(i) for i in row], dtype=np.int64) for row in result["ids"]]
        # chromadb's cosine distance is 1 - cosine.
        sims = [1.0 - np.asarray(row, dtype=np.float32) for row in distances]
        return ids, sims

    def holds_nothing(self) -> bool:
        return not self.path.exists()

    def reset(self) -> None:
        """Drop every vector and the files that held them (deleted ones too)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def set_aside(self, why: str) -> None:
        """Close the index and rename its directory aside (see `quarantine`): a
        damaged index is kept for inspection, and a new one starts empty."""
        with contextlib.suppress(ChromaError):
            self.close()  # a client of damaged files may fail to close; they go aside anyway
        if self.path.exists():
            set_aside(self.path, why)

    def _connect(self) -> ClientAPI:
        return persistent_client(self.path)

    def _key(self, item_id: int) -> str:
        return format_id(item_id)

    def _id(self, key: str) -> int:
        return int(key, 16)
