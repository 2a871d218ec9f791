"""int8 vectors with a scale each: a quarter of float32, cosines kept."""

from __future__ import annotations

import numpy as np

from noosd.shared.quantize import dequantized, quantized


def unit_vectors(count: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)


def test_int8_vectors_take_a_quarter_of_float32_and_keep_their_cosines() -> None:
    vectors = unit_vectors(100)
    for vector in vectors:
        codes, scale = quantized(vector)
        assert codes.dtype == np.int8 and codes.nbytes == vector.size
        restored = dequantized(codes, scale)
        assert float(restored @ vector) / float(np.linalg.norm(restored)) > 0.999
    # Cosines between different vectors survive too.
    codes, scale = quantized(vectors[0])
    assert (
        abs(float(dequantized(codes, scale) @ vectors[1]) - float(vectors[0] @ vectors[1])) < 5e-3
    )


def test_a_matrix_quantizes_row_by_row_as_its_vectors_do() -> None:
    vectors = unit_vectors(10) * np.arange(1, 11, dtype=np.float32)[:, None]

    codes, scales = quantized(vectors)

    assert codes.shape == vectors.shape and scales.shape == (10,)
    assert np.abs(codes).max(axis=1).tolist() == [127] * 10
    for row, vector in enumerate(vectors):
        one_codes, one_scale = quantized(vector)
        assert codes[row].tolist() == one_codes.tolist() and scales[row] == one_scale
    np.testing.assert_allclose(dequantized(codes, scales), vectors, atol=float(scales.max()))


def test_a_zero_vector_quantizes_without_dividing_by_zero() -> None:
    codes, scale = quantized(np.zeros(8, dtype=np.float32))

    assert float(scale) == 1.0
    assert dequantized(codes, scale).tolist() == [0.0] * 8


def test_no_vectors_give_no_codes() -> None:
    codes, scales = quantized(np.empty((0, 384), dtype=np.float32))

    assert codes.shape == (0, 384) and scales.shape == (0,)
