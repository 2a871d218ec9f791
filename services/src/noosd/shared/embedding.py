"""Turning texts into vectors, for every service: the `Embedder` protocol and
the two ways to run the shipped MiniLM (all-MiniLM-L6-v2).

- `OnnxEmbedder`: the model as one ONNX graph (BERT, mean pooling over the
  attention mask, L2 normalisation), exported when the models are staged
  (tools/stage-models.py, which checks its vectors against
  sentence-transformers'), run by ONNX Runtime with the model's own fast
  tokenizer. It never imports torch, whose import alone takes a minute in a
  TCG guest, and embeds one query ~2.5x faster than sentence-transformers on
  one thread, with the same vectors (cosine 0.9999998). Its weights are
  mapped from a file of their own, so that the services that embed (Memory1,
  Index1) hold one copy of them in RAM between them, not one each.
- `SentenceTransformerEmbedder`: sentence-transformers on torch, the fallback
  for a model directory without an ONNX export.

`load_embedder` picks ONNX when the model's manifest names an export that
exists. It never asks torch about a GPU: the image's torch is the CPU build, so
there is none to find, and asking would import torch. A host with a CUDA torch
that wants the GPU constructs `SentenceTransformerEmbedder(model_dir,
device="cuda")` itself.

MiniLM reads at most 256 word pieces (`max_seq_length`): a longer text keeps
its words, but only its beginning decides its vector.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from noosd.runtime.health import beat
from noosd.shared.arrays import Matrix
from noosd.shared.models import MANIFEST

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

# Padded tokens per ONNX Runtime call: 2 texts of MiniLM's longest (256), ~0.3 s
# on one core here, ~60 s in the slowest TCG guest met. Larger batches gained
# nothing measurable on a CPU (tests/bench index figures).
MAX_BATCH_TOKENS = 512

_log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Texts to vectors of `dim` float32s, each of unit length, one row per text."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Matrix: ...


def load_embedder(model_dir: Path, *, threads: int = 1) -> Embedder:
    """The model in `model_dir` on `threads` CPU threads: ONNX when it has an export.

    Loads nothing yet: the first `embed` does.
    """
    onnx = onnx_file(model_dir)
    if onnx is not None:
        _log.info("embedding with ONNX Runtime: %s", onnx)
        return OnnxEmbedder(model_dir, onnx, threads=threads)
    _log.info("embedding with sentence-transformers: %s has no ONNX export", model_dir)
    return SentenceTransformerEmbedder(model_dir, threads=threads)


def onnx_file(model_dir: Path) -> Path | None:
    """The ONNX export that the model's manifest names (`onnx = ...`), if it exists."""
    try:
        with (model_dir / MANIFEST).open("rb") as manifest:
            name = tomllib.load(manifest).get("onnx")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if not isinstance(name, str) or not (model_dir / name).is_file():
        return None
    return model_dir / name


def _config(model_dir: Path, name: str, key: str) -> int | None:
    """An integer from one of a sentence-transformers model's JSON configs, if it says one."""
    try:
        return int(json.loads((model_dir / name).read_text())[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pooling_dim(model_dir: Path) -> int | None:
    # The pooling layer's config says the dimension without loading the model.
    return _config(model_dir, "1_Pooling/config.json", "word_embedding_dimension")


class OnnxEmbedder:
    """A model exported to ONNX (texts' token ids in, unit vectors out), loaded on first use.

    Tokenizes with the model's `tokenizer.json`, truncated at the model's
    `max_seq_length`; embeds at most `batch_size` texts and `max_batch_tokens`
    padded tokens at a time, sorted by length so that a batch pads little
    (the attention mask keeps padding out of every vector). ONNX Runtime
    runs on the CPU with `threads` threads.
    """

    INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(
        self,
        model_dir: Path,
        model_file: Path,
        *,
        threads: int = 1,
        batch_size: int = 32,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
    ) -> None:
        self.model_dir = model_dir
        self.model_file = model_file
        self._threads = threads
        self._batch_size = batch_size
        self._max_tokens = max_batch_tokens
        self._session: InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = _pooling_dim(self.model_dir)
        if self._dim is None:
            raise RuntimeError(f"{self.model_dir}: the model does not say its dimension")
        return self._dim

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in self._batches(order, [len(encoding.ids) for encoding in encodings]):
            width = max(len(encodings[i].ids) for i in rows)
            inputs = {
                name: np.zeros((len(rows), width), dtype=np.int64) for name in self.INPUT_NAMES
            }
            for row, i in enumerate(rows):
                encoding = encodings[i]
                length = len(encoding.ids)
                inputs["input_ids"][row, :length] = encoding.ids
                inputs["attention_mask"][row, :length] = encoding.attention_mask
                inputs["token_type_ids"][row, :length] = encoding.type_ids
            (output,) = session.run(None, inputs)
            vectors[rows] = output
            beat()
        return vectors

    def _batches(self, order: list[int], lengths: list[int]) -> Iterator[list[int]]:
        """`order` (by length, ascending) cut into batches of at most
        `batch_size` rows and `max_batch_tokens` padded tokens (one row at
        least): each `session.run` then costs about the same, and the work
        loop running it beats at that pace (a slow machine is not stuck)."""
        rows: list[int] = []
        for i in order:
            # Sorted ascending: the batch's width is the new row's length.
            if rows and (
                len(rows) == self._batch_size or (len(rows) + 1) * lengths[i] > self._max_tokens
            ):
                yield rows
                rows = []
            rows.append(i)
        if rows:
            yield rows

    def _load(self) -> tuple[InferenceSession, Tokenizer]:
        if self._session is None or self._tokenizer is None:
            import onnxruntime
            from tokenizers import Tokenizer

            max_length = _config(self.model_dir, "sentence_bert_config.json", "max_seq_length")
            if max_length is None:
                raise RuntimeError(f"{self.model_dir}: the model does not say its max_seq_length")
            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            # tokenizer.json itself pads and truncates at 128; sentence-transformers
            # truncates at max_seq_length (256) and pads each batch to its longest.
            tokenizer.enable_truncation(max_length)
            tokenizer.no_padding()
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only
            # The staged graph is optimised already and its weights are mapped
            # from their own file (tools/stage-models.py, share_weights): optimising
            # or prepacking here would copy them into this process, while mapped
            # they are in RAM once for every service that embeds (about 100 MiB
            # saved per service, for ~10% more time per query).
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
            options.add_session_config_entry("session.disable_prepacking", "1")
            self._session = onnxruntime.InferenceSession(
                str(self.model_file), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = tokenizer
        return self._session, self._tokenizer


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a directory, loaded on first use.

    Loading imports torch, which takes seconds (a minute in a TCG guest), so
    constructing one is free and the first `embed` pays. It runs on `device`,
    else on CUDA when torch finds a GPU, else on the CPU with `threads`
    threads: torch's thread count is per process, and the services share few
    cores.
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
            self._dim = _pooling_dim(self.model_dir)
        if self._dim is None:
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
        return np.asarray(vectors, dtype=np.float32)

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
