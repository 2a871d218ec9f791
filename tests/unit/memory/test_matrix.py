"""The RAM matrices of the hot and cold tiers: rows by id, exhaustive search."""

from __future__ import annotations

import numpy as np
import pytest

from noosd.memory import codec
from noosd.memory.hot import HotIndex
from noosd.memory.matrix import BLOCK_ROWS, VectorMatrix


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    return codec.normalized(np.random.default_rng(seed).standard_normal((count, 384)))


def quantized(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [codec.quantize(vector) for vector in vectors]
    codes = np.stack([codec.int8_codes(blob) for blob, _ in pairs])
    return codes, np.array([scale for _, scale in pairs], dtype=np.float32)


def test_the_nearest_rows_come_first_with_their_cosines() -> None:
    vectors = unit_vectors(50)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add(list(range(100, 150)), vectors)

    ids, sims = matrix.top(vectors[[7, 30]], 3)

    assert ids[:, 0].tolist() == [107, 130]
    np.testing.assert_allclose(sims[:, 0], [1.0, 1.0], atol=1e-5)
    assert (np.diff(sims, axis=1) <= 0).all()
    expected = np.sort(vectors @ vectors[7])[::-1][:3]
    np.testing.assert_allclose(sims[0], expected, atol=1e-5)


def test_removal_keeps_the_other_rows_findable() -> None:
    vectors = unit_vectors(10)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add(list(range(10)), vectors)

    matrix.remove([0, 4, 99])

    assert len(matrix) == 8 and 0 not in matrix and 9 in matrix
    for memory_id in (1, 9, 5):
        assert matrix.top(vectors[[memory_id]], 1)[0][0, 0] == memory_id
    assert sorted(matrix.ids.tolist()) == [1, 2, 3, 5, 6, 7, 8, 9]


def test_adding_an_id_again_replaces_its_row() -> None:
    vectors = unit_vectors(3)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add([1, 2], vectors[:2])

    matrix.add([1], vectors[2:])

    assert len(matrix) == 2
    assert matrix.top(vectors[[2]], 1)[0][0, 0] == 1


def test_an_int8_matrix_searches_across_blocks_like_float32() -> None:
    count = BLOCK_ROWS + 500
    vectors = unit_vectors(count)
    codes, scales = quantized(vectors)
    matrix = VectorMatrix(384, quantized=True)
    matrix.add(list(range(count)), codes, scales)
    queries = vectors[[3, BLOCK_ROWS + 7]]

    ids, sims = matrix.top(queries, 5)

    assert ids[:, 0].tolist() == [3, BLOCK_ROWS + 7]
    exact = np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :5]
    np.testing.assert_allclose(sims, exact, atol=5e-3)


def test_k_beyond_the_rows_returns_them_all() -> None:
    matrix = VectorMatrix(384, quantized=False)
    assert matrix.top(unit_vectors(1), 10)[0].shape == (1, 0)
    matrix.add([5, 6], unit_vectors(2))
    assert matrix.top(unit_vectors(1), 10)[0].shape == (1, 2)


def test_a_quantized_matrix_needs_scales() -> None:
    with pytest.raises(ValueError):
        VectorMatrix(384, quantized=True).add([1], np.zeros((1, 384), dtype=np.int8))


def test_the_torch_search_of_the_hot_tier_matches_numpy() -> None:
    # The GPU path, run by torch on the CPU: the same code, any machine.
    pytest.importorskip("torch")
    vectors = unit_vectors(40)
    with_torch, with_numpy = HotIndex(384, device="cpu"), HotIndex(384)
    for index in (with_torch, with_numpy):
        index.add(list(range(40)), vectors)
        index.remove([3])
    queries = unit_vectors(2, seed=1)

    torch_ids, torch_sims = with_torch.top(queries, 4)
    numpy_ids, numpy_sims = with_numpy.top(queries, 4)

    assert torch_ids.tolist() == numpy_ids.tolist()
    np.testing.assert_allclose(torch_sims, numpy_sims, atol=1e-5)
    # A change reaches the torch copy.
    with_torch.remove([int(torch_ids[0, 0])])
    assert with_torch.top(queries, 1)[0][0, 0] == torch_ids[0, 1]
