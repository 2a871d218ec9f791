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

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from noos.protocol.errors import InvalidArgument
from noosd.shared.chroma import ChromaCollection, client_settings, persistent_client
from noosd.shared.matrix import IdArray, Vector

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

DEFAULT_COLLECTION = "noos-index"
DEFAULT_PORT = 8000


class ChromaIndex(ChromaCollection):
    """The chunks' collection, embedded at `path` or on the server at `url`;
    opened on first use."""

    def __init__(self, path: Path, url: str | None, collection: str) -> None:
        super().__init__(collection)
        self.path = path
        self.url = url
        if url is not None:
            _server(url)  # a bad URL is refused at once, not at first use

    @property
    def embedded(self) -> bool:
        return self.url is None

    def holds_nothing(self) -> bool:
        return self.embedded and not self.path.exists()

    def top(self, query: Vector, k: int) -> tuple[IdArray, Vector]:
        """The ids and cosines of up to k nearest vectors, nearest first."""
        result = self._open().query(
            query_embeddings=query[None, :], n_results=k, include=["distances"]
        )
        ids = np.array([self._id(i) for i in result["ids"][0]], dtype=np.int64)
        distances = (result["distances"] or [[]])[0]
        # chromadb's cosine distance is 1 - cosine.
        return ids, 1.0 - np.asarray(distances, dtype=np.float32)

    def _connect(self) -> ClientAPI:
        if self.url is None:
            return persistent_client(self.path)
        import chromadb

        host, port, ssl = _server(self.url)
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=client_settings())

    def _key(self, item_id: int) -> str:
        return str(item_id)

    def _id(self, key: str) -> int:
        return int(key)


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
