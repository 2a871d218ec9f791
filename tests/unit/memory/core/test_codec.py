"""How memories' vectors and texts are stored: float16, int8 with a scale, zlib
(the int8 codes themselves: tests/unit/shared/test_quantize.py)."""

from __future__ import annotations

import numpy as np

from noosd.memory.core import codec
from noosd.shared.quantize import quantized


def unit_vectors(count: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    return codec.normalized(np.random.default_rng(seed).standard_normal((count, dim)))


def test_float16_vectors_keep_their_cosines() -> None:
    vector = unit_vectors(1)[0]

    restored = codec.from_float16(codec.float16_bytes(vector))

    assert restored.dtype == np.float32
    assert float(restored @ vector) > 0.9999


def test_stored_vectors_decode_by_their_kind() -> None:
    vector = unit_vectors(1)[0]
    codes, scale = quantized(vector)

    assert float(codec.decode_vector(codes.tobytes(), float(scale)) @ vector) > 0.999
    assert float(codec.decode_vector(codec.float16_bytes(vector), None) @ vector) > 0.999


def test_cold_text_is_compressed_when_that_makes_it_smaller() -> None:
    text = "git status; git diff; git commit -m 'notes' " * 20

    packed, compressed = codec.pack_text(text, compress=True)

    assert compressed and len(packed) < len(text) / 4
    assert codec.unpack_text(packed, compressed) == text


def test_short_or_uncompressible_text_stays_plain() -> None:
    for text, compress in (("ls", True), ("a longer text, kept as it is", False)):
        packed, compressed = codec.pack_text(text, compress=compress)
        assert not compressed
        assert codec.unpack_text(packed, compressed) == text
