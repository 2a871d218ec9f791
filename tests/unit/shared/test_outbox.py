"""The outbox: a chromadb collection following rows of SQLite, a fake collection
standing in for chromadb."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import pytest

from noosd.shared import outbox as outbox_module
from noosd.shared.chroma import ChromaCollection
from noosd.shared.matrix import IdArray
from noosd.shared.outbox import ChromaOutbox, OutboxDatabase, OutboxSchema

DIM = 4
_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    followed INTEGER NOT NULL,
    synced INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE removals (id INTEGER PRIMARY KEY);
"""


def _decode(rows: Sequence[tuple[Any, ...]]) -> tuple[IdArray, npt.NDArray[np.float32]]:
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32)
    return ids, vectors.reshape(len(rows), DIM)


class ItemDatabase(OutboxDatabase):
    OUTBOX = OutboxSchema(
        table="items",
        synced="synced",
        removals="removals",
        vector_columns="vector",
        decode=_decode,
        scope="followed = 1",
    )

    def __init__(self, path: Path) -> None:
        super().__init__(path, schema=_SCHEMA, version=1, settings={})

    def insert(self, ids: Sequence[int], followed: bool = True) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT INTO items (id, followed, synced, vector) VALUES (?, ?, 0, ?)",
                [(i, int(followed), np.full(DIM, i, dtype=np.float32).tobytes()) for i in ids],
            )

    def delete(self, ids: Sequence[int]) -> None:
        with self.transaction():
            self._db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in ids])
            self.queue_removals(ids)


class FakeCollection(ChromaCollection):
    """chromadb as a dict; `failing` makes every call raise."""

    def __init__(self) -> None:
        super().__init__("items")
        self.vectors: dict[int, list[float]] = {}
        self.failing = False
        self.calls = 0

    def upsert(self, ids: Sequence[int], vectors: npt.NDArray[np.float32]) -> None:
        self._call()
        self.vectors.update(zip(ids, vectors.tolist(), strict=True))

    def delete(self, ids: Sequence[int]) -> None:
        self._call()
        for item_id in ids:
            self.vectors.pop(item_id, None)

    def count(self) -> int:
        self._call()
        return len(self.vectors)

    def all_ids(self) -> set[int]:
        self._call()
        return set(self.vectors)

    def holds_nothing(self) -> bool:
        return not self.vectors

    def _call(self) -> None:
        self.calls += 1
        if self.failing:
            raise ConnectionError("chromadb is down")

    def _connect(self) -> NoReturn:
        raise AssertionError("a fake connects to nothing")

    def _key(self, item_id: int) -> str:
        return str(item_id)

    def _id(self, key: str) -> int:
        return int(key)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[ItemDatabase]:
    database = ItemDatabase(tmp_path / "items.sqlite3")
    yield database
    database.close()


def test_a_flush_writes_what_chromadb_lacks_and_marks_it(db: ItemDatabase) -> None:
    collection = FakeCollection()
    marked: list[int] = []
    written: list[int] = []
    outbox = ChromaOutbox(db, collection, marking=marked.extend, written=written.extend)
    db.insert([1, 2, 3])
    db.insert([9], followed=False)

    outbox.flush()

    assert sorted(collection.vectors) == [1, 2, 3]
    assert collection.vectors[2] == [2.0] * DIM
    assert marked == written == [1, 2, 3]
    assert db.unsynced_ids() == [] and db.synced_ids() == {1, 2, 3} and db.synced_count() == 3


def test_a_limited_write_takes_the_oldest_in_batches(
    db: ItemDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "FLUSH_BATCH", 2)
    collection = FakeCollection()
    batches: list[list[int]] = []
    outbox = ChromaOutbox(db, collection, relaxed=True, written=batches.append)
    db.insert([5, 1, 4, 2, 3])

    outbox.write(limit=3)

    assert batches == [[1, 2], [3]]
    assert db.unsynced_ids() == [4, 5]
    outbox.write()
    assert sorted(collection.vectors) == [1, 2, 3, 4, 5]


def test_removals_reach_chromadb_and_leave_the_outbox(db: ItemDatabase) -> None:
    collection = FakeCollection()
    outbox = ChromaOutbox(db, collection)
    db.insert([1, 2, 3])
    outbox.flush()

    db.delete([2, 3])
    outbox.flush_removals()

    assert sorted(collection.vectors) == [1]
    assert db.pending_removals() == []


def test_reconcile_deletes_what_chromadb_kept_and_unsyncs_what_it_lost(
    db: ItemDatabase,
) -> None:
    collection = FakeCollection()
    outbox = ChromaOutbox(db, collection)
    db.insert([1, 2, 3])
    outbox.flush()
    del collection.vectors[2]
    collection.vectors[7] = collection.vectors[8] = [0.0] * DIM

    missing = outbox.reconcile()

    assert missing == [2]
    assert sorted(collection.vectors) == [1, 3]
    assert db.unsynced_ids() == [2]
    outbox.flush()
    assert sorted(collection.vectors) == [1, 2, 3]


def test_reconcile_leaves_a_collection_that_holds_nothing_unopened(db: ItemDatabase) -> None:
    collection = FakeCollection()
    db.insert([1])

    assert ChromaOutbox(db, collection).reconcile() == []
    assert collection.calls == 0


def test_mark_all_unsynced_starts_chromadb_over(db: ItemDatabase) -> None:
    outbox = ChromaOutbox(db, FakeCollection())
    db.insert([1, 2])
    outbox.flush()
    db.delete([2])

    with db.transaction():
        db.mark_all_unsynced()

    assert db.unsynced_ids() == [1] and db.pending_removals() == []


def test_a_failing_chromadb_is_left_alone_until_the_retry(
    db: ItemDatabase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    # The outbox's clock (time.monotonic), for this test alone.
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    collection = FakeCollection()
    outbox = ChromaOutbox(db, collection)
    db.insert([1, 2])
    collection.failing = True

    with caplog.at_level(logging.ERROR):
        assert outbox.guarded("writing", outbox.flush) is None
    assert "chromadb failed while writing" in caplog.text
    assert not outbox.available and db.unsynced_ids() == [1, 2]
    calls = collection.calls
    assert outbox.guarded("writing", outbox.flush) is None
    assert collection.calls == calls  # not asked again before RETRY_S

    collection.failing = False
    now[0] += outbox_module.RETRY_S
    assert outbox.available
    assert outbox.guarded("counting", collection.count) == 0
    outbox.guarded("writing", outbox.flush)
    assert sorted(collection.vectors) == [1, 2]
