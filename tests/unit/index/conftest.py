"""Fixtures of the index engine's tests: the shipped embedding model (loaded once
per session) behind a wrapper that counts what it embeds, a fixed clock, and
engines on a temporary state directory."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from noosd.index.store import IndexStore
from noosd.shared.arrays import Matrix
from noosd.shared.embedding import Embedder, load_embedder
from tests.fixtures.models import shipped_models_tree

MODEL = "all-minilm-l6-v2"
# An arbitrary, fixed moment: Saturday 2026-03-14, noon local time (the time
# zone whose days a query's "Tuesday" names).
NOW = datetime(2026, 3, 14, 12, 0).timestamp()


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.calls = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Matrix:
        self.calls += 1
        self.texts += texts
        return self.inner.embed(texts)

    def reset(self) -> None:
        self.texts = []
        self.calls = 0


@pytest.fixture(scope="session")
def shipped_embedder() -> Embedder:
    """The service's embedder (ONNX Runtime) on the shipped MiniLM, loaded once."""
    embedder = load_embedder(shipped_models_tree() / MODEL)
    embedder.embed(["load the model once for the whole session"])
    return embedder


@pytest.fixture
def embedder(shipped_embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(shipped_embedder)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def files() -> Iterator[Path]:
    """Where a test writes the files it indexes: a directory that every user may
    search, as may every directory above it (pytest's tmp_path is under a 0700
    directory of root's, which would close every file to a non-root caller)."""
    directory = Path(tempfile.mkdtemp(prefix="noos-index-test-"))
    directory.chmod(0o755)
    for above in (directory, *directory.parents):
        assert above.stat().st_mode & 0o001, f"{above} is not searchable by every user"
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def make_engine(state_dir: Path, embedder: CountingEmbedder) -> Iterator[Callable[..., IndexStore]]:
    """Engines on the test's state directory, configured by keyword; closed after the test."""
    engines: list[IndexStore] = []

    def make(**options: Any) -> IndexStore:
        options.setdefault("clock", lambda: NOW)
        engine = IndexStore(state_dir, embedder, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., IndexStore]) -> IndexStore:
    return make_engine()
