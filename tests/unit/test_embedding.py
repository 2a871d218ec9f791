"""The shipped embedding model behind the `Embedder` protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from noosd.memory import Embedder, SentenceTransformerEmbedder


def test_minilm_embeds_texts_as_unit_vectors_of_384_floats(
    embedder: SentenceTransformerEmbedder,
) -> None:
    protocol: Embedder = embedder

    vectors = protocol.embed(["the cat sat on the mat", "a kitten rests on a rug", "tax forms"])

    assert protocol.dim == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_nothing_embeds_to_no_rows(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_the_dimension_is_known_before_the_model_loads(model_dir: Path) -> None:
    # Read from the pooling layer's config: constructing and asking cost no torch.
    assert SentenceTransformerEmbedder(model_dir).dim == 384
