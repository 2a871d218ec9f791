"""int8 vectors: symmetric quantisation, one float32 scale per vector.

v ~ q * scale with |q| <= 127 and scale = max|v| / 127: a quarter of
float32's bytes, and cosines within ~2e-3 of float32's. Reading vectors is
bound by the bytes read, not the arithmetic, so the services keep in int8
what they search a lot of (the memory store's cold tier, the index's chunks)
and what they store for long (cold memories in SQLite).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Codes = npt.NDArray[np.int8]
Scales = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]

# The largest code: -128 is left out, so that the codes are symmetric about 0.
MAX_CODE = 127


def quantized(vectors: Vectors) -> tuple[Codes, Scales]:
    """The int8 codes of each vector (the last axis) and the scale that maps
    them back: one scale for a vector, one per row for a matrix. A zero vector
    has the scale 1.0 (nothing to divide by)."""
    peaks = (
        np.max(np.abs(vectors), axis=-1)
        if vectors.size
        else np.zeros(vectors.shape[:-1], dtype=np.float32)
    )
    scales = np.where(peaks > 0, peaks / MAX_CODE, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / scales[..., None]), -MAX_CODE, MAX_CODE).astype(np.int8)
    return codes, scales


def dequantized(codes: Codes, scales: Scales | float) -> Vectors:
    """The float32 vectors that `quantized` gave these codes and scales for."""
    vectors = codes.astype(np.float32)
    vectors *= np.asarray(scales, dtype=np.float32)[..., None]
    return vectors
