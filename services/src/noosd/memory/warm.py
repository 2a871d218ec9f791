"""The warm tier: one user's vectors in chromadb's HNSW index, searched approximately.

Each user has an embedded chromadb `PersistentClient` of their own, holding one
collection in cosine space without an embedding function: vectors come from
the store's embedder, and chromadb keeps only ids and vectors (texts and
metadata live in SQLite). A client per user keeps users' files apart, makes
their size exact, and lets a collection be rebuilt by deleting its directory:
chromadb never reuses the slots of deleted vectors, nor removes the files of a
deleted collection.

The index is a cache of SQLite: the store can always rebuild it. chromadb's
`where` filters are slow at this size, so none is used: the store asks for
more neighbours and lets SQLite filter them.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from noosd.memory.codec import Matrix
from noosd.memory.ids import format_id
from noosd.memory.matrix import IdArray

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

COLLECTION = "memories"


class WarmIndex:
    """A user's chromadb collection at `path`, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        # The most ids one chromadb call takes (chromadb says, once open).
        self._batch = 0

    def upsert(self, ids: Sequence[int], vectors: Matrix) -> None:
        collection = self._open()
        for start in range(0, len(ids), self._batch):
            collection.upsert(
                ids=[format_id(i) for i in ids[start : start + self._batch]],
                embeddings=np.asarray(vectors[start : start + self._batch], dtype=np.float32),
            )

    def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        collection = self._open()
        for start in range(0, len(ids), self._batch):
            collection.delete(ids=[format_id(i) for i in ids[start : start + self._batch]])

    def top(self, queries: Matrix, k: int) -> tuple[list[IdArray], list[Matrix]]:
        """The ids and cosines of up to k nearest vectors for each query, nearest first."""
        result = self._open().query(
            query_embeddings=np.asarray(queries, dtype=np.float32),
            n_results=k,
            include=["distances"],
        )
        distances = result["distances"] or []
        ids = [np.array([int(i, 16) for i in row], dtype=np.int64) for row in result["ids"]]
        # chromadb's cosine distance is 1 - cosine.
        sims = [1.0 - np.asarray(row, dtype=np.float32) for row in distances]
        return ids, sims

    def count(self) -> int:
        return self._open().count()

    def all_ids(self) -> set[int]:
        return {int(i, 16) for i in self._open().get(include=[])["ids"]}

    def reset(self) -> None:
        """Drop every vector and the files that held them (deleted ones too)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def close(self) -> None:
        if self._client is not None:
            from chromadb.api.client import Client

            # PersistentClient is declared to return the abstract ClientAPI.
            if isinstance(self._client, Client):
                self._client.close()
        self._client = None
        self._collection = None

    def _open(self) -> Collection:
        if self._collection is None:
            import chromadb
            from chromadb.config import Settings

            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(self.path),
                settings=Settings(anonymized_telemetry=False, allow_reset=False),
            )
            self._batch = client.get_max_batch_size()
            self._collection = client.get_or_create_collection(
                COLLECTION,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
            self._client = client
        return self._collection
