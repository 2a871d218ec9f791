"""Turning texts into vectors: the `Embedder` protocol and the shipped MiniLM.

all-MiniLM-L6-v2 reads at most 256 word pieces: a longer text is stored whole,
but only its beginning decides its vector.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from noosd.memory.codec import Matrix, normalized

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    """Texts to vectors of `dim` float32s, each of unit length, one row per text."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Matrix: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a directory, loaded on first use.

    Loading imports torch, which takes seconds (a minute in a TCG guest), so
    constructing one is free and the first `embed` pays. It runs on CUDA when
    torch finds a GPU, else on the CPU with `threads` threads: torch's thread
    count is per process, and the services share few cores.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str | None = None,
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        self.model_dir = model_dir
        self._device = device
        self._threads = threads
        self._batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            # The pooling layer's config says it without loading the model.
            pooling = self.model_dir / "1_Pooling" / "config.json"
            try:
                self._dim = int(json.loads(pooling.read_text())["word_embedding_dimension"])
            except (OSError, ValueError, KeyError, TypeError):
                self._load_model()
        if self._dim is None:
            raise RuntimeError(f"{self.model_dir}: the model does not say its dimension")
        return self._dim

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._load_model().encode(
            list(texts),
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalized(np.asarray(vectors, dtype=np.float32))

    def _load_model(self) -> SentenceTransformer:
        if self._model is None:
            # Model hubs are unreachable from noos: never try them.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
            if device == "cpu":
                torch.set_num_threads(self._threads)
            self._model = SentenceTransformer(str(self.model_dir), device=device)
            self._dim = self._model.get_embedding_dimension()
        return self._model
