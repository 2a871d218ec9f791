"""Fixtures of the memory store's tests: the shipped embedding model, loaded once
per session, a clock the tests move, and stores on a temporary state directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from noosd.memory.core.config import MemoryConfig
from noosd.memory.core.ids import parse_id
from noosd.memory.core.model import Tier
from noosd.memory.core.tiering import TIERS, WARM
from noosd.memory.storage.database import MemoryDatabase, StoredMemory
from noosd.memory.storage.warm import WarmIndex
from noosd.memory.store import MemoryStore
from noosd.memory.user import DATABASE_FILE, WARM_DIR
from noosd.shared.embedding import Embedder, load_embedder
from tests.fixtures.models import shipped_models_tree

REPO = Path(__file__).resolve().parents[3]
MODEL = "all-minilm-l6-v2"
# An arbitrary, fixed start: 2026-01-01 UTC.
EPOCH = 1_767_225_600.0
DAY = 86400.0


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def stored_memory(state_dir: Path, uid: int, memory_id: str) -> StoredMemory:
    """A memory as SQLite has it, read without the access that `get` is."""
    db = MemoryDatabase(state_dir / "users" / str(uid) / DATABASE_FILE)
    try:
        parsed = parse_id(memory_id)
        assert parsed is not None
        return db.fetch([parsed])[parsed]
    finally:
        db.close()


def stored_tier(state_dir: Path, uid: int, memory_id: str) -> Tier:
    """A memory's tier as SQLite has it."""
    return TIERS[stored_memory(state_dir, uid, memory_id).tier]


def warm_ids(state_dir: Path, uid: int) -> set[str]:
    """The ids of a user's warm memories, as SQLite has them."""
    db = MemoryDatabase(state_dir / "users" / str(uid) / DATABASE_FILE)
    try:
        return {f"{memory_id:016x}" for memory_id in db.scoring(tier=WARM).ids.tolist()}
    finally:
        db.close()


def chromadb_ids(state_dir: Path, uid: int) -> set[str]:
    """The ids in a user's chromadb (through a second client on the store's files)."""
    warm = WarmIndex(state_dir / "users" / str(uid) / WARM_DIR)
    try:
        return {f"{memory_id:016x}" for memory_id in warm.all_ids()}
    finally:
        warm.close()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """all-MiniLM-L6-v2 as the image ships it, staged (or found cached) by tools/stage-models.py."""
    return shipped_models_tree() / MODEL


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> Embedder:
    """The service's embedder (ONNX Runtime), loaded once for the whole session."""
    embedder = load_embedder(model_dir)
    embedder.embed(["load the model once for the whole session"])
    return embedder


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_store(
    state_dir: Path, embedder: Embedder, clock: Clock
) -> Iterator[Callable[..., MemoryStore]]:
    """Stores on the test's state directory, configured by keyword; closed after the test."""
    stores: list[MemoryStore] = []

    def make(**config: Any) -> MemoryStore:
        store = MemoryStore(state_dir, embedder, MemoryConfig(**config), clock)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., MemoryStore]) -> MemoryStore:
    return make_store()
