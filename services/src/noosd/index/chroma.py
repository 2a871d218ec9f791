"""The chunks' vectors in chromadb's HNSW index: the approximate search of an
unfiltered query over more rows than an exact product is cheap for.

Embedded by default (a `PersistentClient` on a directory of the service's
state, written by this service alone); a Chroma server when configured
(`chroma_url` -> `HttpClient`), for an index larger than one machine should
hold. One collection in cosine space without an embedding function: vectors
come from the engine's embedder, and chromadb keeps only ids and vectors
(paths, texts and filters live in SQLite; chromadb's `where` filters are too
slow at this size).

The collection is a follower of SQLite: the engine can always rebuild it, and
runs without it (exactly, in RAM) while a server is unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from noos.errors import InvalidArgument
from noosd.embedding import Matrix
from noosd.index.vectors import IdArray, Vector

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

DEFAULT_COLLECTION = "noos-index"
DEFAULT_PORT = 8000


class ChromaIndex:
    """The chunks' collection, embedded at `path` or on the server at `url`;
    opened on first use."""

    def __init__(self, path: Path, url: str | None, collection: str) -> None:
        self.path = path
        self.url = url
        self.collection_name = collection
        if url is not None:
            _server(url)  # a bad URL is refused at once, not at first use
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        # The most ids one chromadb call takes (chromadb says, once open).
        self._batch = 0

    @property
    def embedded(self) -> bool:
        return self.url is None

    def upsert(self, ids: Sequence[int], vectors: Matrix) -> None:
        collection = self._open()
        for start in range(0, len(ids), self._batch):
            collection.upsert(
                ids=[str(i) for i in ids[start : start + self._batch]],
                embeddings=np.asarray(vectors[start : start + self._batch], dtype=np.float32),
            )

    def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        collection = self._open()
        for start in range(0, len(ids), self._batch):
            collection.delete(ids=[str(i) for i in ids[start : start + self._batch]])

    def top(self, query: Vector, k: int) -> tuple[IdArray, Vector]:
        """The ids and cosines of up to k nearest vectors, nearest first."""
        result = self._open().query(
            query_embeddings=query[None, :], n_results=k, include=["distances"]
        )
        ids = np.array([int(i) for i in result["ids"][0]], dtype=np.int64)
        distances = (result["distances"] or [[]])[0]
        # chromadb's cosine distance is 1 - cosine.
        return ids, 1.0 - np.asarray(distances, dtype=np.float32)

    def count(self) -> int:
        return self._open().count()

    def all_ids(self) -> set[int]:
        return {int(i) for i in self._open().get(include=[])["ids"]}

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
            if self._client is None:
                self._client = self._connect()
                self._batch = self._client.get_max_batch_size()
            self._collection = self._client.get_or_create_collection(
                self.collection_name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
        return self._collection

    def _connect(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.url is None:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        host, port, ssl = _server(self.url)
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)


def _server(url: str) -> tuple[str, int, bool]:
    """The host, port and TLS of a Chroma server's URL ("http://chroma.lan:8000")."""
    wrong = InvalidArgument(f"a Chroma server URL is http(s)://host[:port], not {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise wrong from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise wrong
    return parts.hostname, port or DEFAULT_PORT, parts.scheme == "https"
