"""The shipped embedding model behind a cache by text.

Identical text, identical vector: so a stream that repeats `git status` a
hundred thousand times embeds it once, and a second `make bench` embeds
nothing it embedded before (the cache persists under build/bench-cache/,
keyed by the model's files). Only the benchmarks' bulk texts go through the
cache; a latency benchmark's query is always embedded for real.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tests.bench.support.environment import (
    CACHE_ROOT,
    EMBEDDING_THREADS,
    embedding_model_dir,
    source_digest,
)

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """The store's `noosd.memory.Embedder`, restated so these helpers type-check alone."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def shipped_embedder() -> Embedder:
    """The service's own embedder (its loader picks it), on the model the image ships."""
    from noosd.shared.embedding import load_embedder

    # The service's loader and settings: the same vectors, at the same speed.
    return load_embedder(embedding_model_dir(), threads=EMBEDDING_THREADS)


def model_digest() -> str:
    model = embedding_model_dir()
    return source_digest(p for p in model.rglob("*") if p.is_file() and p.suffix != ".md")


class CachingEmbedder:
    """`inner` behind an LRU cache by text; optionally saved to and loaded from a file.

    Counts what it embedded for real and how long that took, so a benchmark
    can say what part of its time was the model.
    """

    def __init__(self, inner: Embedder, capacity: int = 200_000, file: Path | None = None) -> None:
        self.inner = inner
        self.capacity = capacity
        self.file = file
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self.embedded = 0
        self.embedding_s = 0.0
        self.batch_size = 256
        if file is not None and file.exists():
            with np.load(file, allow_pickle=False) as saved:
                for text, vector in zip(saved["texts"].tolist(), saved["vectors"], strict=True):
                    self._vectors[text] = vector

    @property
    def dim(self) -> int:
        return self.inner.dim

    def preload(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Vectors embedded earlier (by this model) for these texts."""
        self._vectors.update(zip(texts, vectors, strict=True))

    def embed(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            start = time.perf_counter()
            for i in range(0, len(missing), self.batch_size):
                chunk = missing[i : i + self.batch_size]
                vectors = np.asarray(self.inner.embed(chunk), dtype=np.float32)
                self._vectors.update(zip(chunk, vectors, strict=True))
            self.embedding_s += time.perf_counter() - start
            self.embedded += len(missing)
        rows = []
        for text in texts:
            self._vectors.move_to_end(text)
            rows.append(self._vectors[text])
        while len(self._vectors) > self.capacity:
            self._vectors.popitem(last=False)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows)

    def save(self) -> None:
        if self.file is None or not self._vectors:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.file.with_suffix(".partial.npz")
        np.savez(
            partial,
            texts=np.array(list(self._vectors)),
            vectors=np.stack(list(self._vectors.values())),
        )
        partial.replace(self.file)


def cached_embedder(name: str) -> CachingEmbedder:
    """The shipped embedder with a persistent cache `name` for its model's files."""
    file = CACHE_ROOT / "embeddings" / f"{name}-{model_digest()}.npz"
    return CachingEmbedder(shipped_embedder(), file=file)


class TimedEmbedder:
    """`inner`, recording how long each `embed` took: the model's share of a call."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.durations: list[float] = []

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        start = time.perf_counter()
        vectors = self.inner.embed(texts)
        self.durations.append(time.perf_counter() - start)
        return vectors
