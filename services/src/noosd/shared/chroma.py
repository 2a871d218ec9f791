"""A chromadb collection of vectors by integer id, as the services keep one:
the base of the index's `ChromaIndex` and the memory store's `WarmIndex`.

One collection in cosine space without an embedding function: vectors come
from the service's own embedder, and chromadb keeps only ids and vectors.
chromadb is imported when a collection is first opened, not with the
service's modules, so that a service answers on the bus before chromadb has
loaded.

Whatever fails inside chromadb is raised as a `ChromaError`, so that a caller
tells it apart from its own failures (chromadb keeps its own SQLite file: its
sqlite3 errors are not the service's database's).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.config import Settings


class ChromaError(RuntimeError):
    """chromadb failed (its files are damaged or unwritable, its server is
    down); the cause is chained."""


@contextmanager
def chromadb_calls() -> Iterator[None]:
    """Raise what fails inside as a `ChromaError`."""
    try:
        yield
    except ChromaError:
        raise
    except Exception as error:
        # Broad on purpose: chromadb raises its own errors, sqlite3's, OSError,
        # and a server's client its transport's.
        raise ChromaError(f"chromadb failed: {type(error).__name__}: {error}") from error


class ChromaCollection(ABC):
    """The collection `collection_name` of the client `_connect` makes, opened
    on first use. A subclass says how ids are written as chromadb's strings
    (`_key`) and read back (`_id`)."""

    def __init__(self, collection_name: str) -> None:
        self.collection_name = collection_name
        self._client: ClientAPI | None = None
        self._collection: Collection | None = None
        # The most ids one chromadb call takes (chromadb says, once open).
        self._batch = 0

    def upsert(self, ids: Sequence[int], vectors: npt.NDArray[np.float32]) -> None:
        with chromadb_calls():
            collection = self._open()
            for start in range(0, len(ids), self._batch):
                collection.upsert(
                    ids=[self._key(i) for i in ids[start : start + self._batch]],
                    embeddings=np.asarray(vectors[start : start + self._batch], dtype=np.float32),
                )

    def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with chromadb_calls():
            collection = self._open()
            for start in range(0, len(ids), self._batch):
                collection.delete(ids=[self._key(i) for i in ids[start : start + self._batch]])

    def count(self) -> int:
        with chromadb_calls():
            return self._open().count()

    def all_ids(self) -> set[int]:
        with chromadb_calls():
            return {self._id(key) for key in self._open().get(include=[])["ids"]}

    def holds_nothing(self) -> bool:
        """Whether the collection surely holds nothing, known without opening
        it (an embedded one whose directory is not there): opening it would
        make it. False where only chromadb can tell."""
        return False

    def close(self) -> None:
        client, self._client, self._collection = self._client, None, None
        if client is not None:
            from chromadb.api.client import Client

            # PersistentClient is declared to return the abstract ClientAPI.
            if isinstance(client, Client):
                with chromadb_calls():
                    client.close()

    def _open(self) -> Collection:
        if self._collection is None:
            if self._client is None:
                client = self._connect()
                self._batch = client.get_max_batch_size()
                # Kept from here on: a collection that failed to open is asked
                # for again of the same client, and `close` closes it.
                self._client = client
            self._collection = self._client.get_or_create_collection(
                self.collection_name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
        return self._collection

    @abstractmethod
    def _connect(self) -> ClientAPI:
        """A new client of the collection's chromadb."""

    @abstractmethod
    def _key(self, item_id: int) -> str:
        """An id as chromadb stores it."""

    @abstractmethod
    def _id(self, key: str) -> int:
        """The id that `_key` wrote as `key`."""


def persistent_client(path: Path) -> ClientAPI:
    """An embedded chromadb in the directory `path`, made (private to the
    service's user) if need be."""
    import chromadb

    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=client_settings())


def client_settings() -> Settings:
    """What every client of the services runs with: no telemetry, and no
    `reset` that would drop every collection."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)
