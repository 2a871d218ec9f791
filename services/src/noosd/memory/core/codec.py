"""How vectors and texts are stored: float16 or int8 vectors, plain or zlib text.

Hot and warm memories keep float16 vectors (half of float32, and cosines
within ~1e-3); cold ones keep int8 vectors with one float scale each
(`noosd.shared.quantize`), a quarter of float32, with cosines within ~2e-3,
and their text zlib-compressed when that is smaller. zstd would compress
better, but is not in the image.
"""

from __future__ import annotations

import hashlib
import zlib

import numpy as np
import numpy.typing as npt

from noosd.shared.quantize import dequantized

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

# zlib's default level: at sizes of a sentence, higher levels gain nothing.
_ZLIB_LEVEL = 6


def float16_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_float16(blob: bytes) -> Vector:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def decode_vector(blob: bytes, scale: float | None) -> Vector:
    """A stored vector as float32: int8 when it has a scale, float16 otherwise."""
    if scale is None:
        return from_float16(blob)
    return dequantized(np.frombuffer(blob, dtype=np.int8), scale)


def pack_text(text: str, compress: bool) -> tuple[bytes, bool]:
    """The stored form of a text, and whether it is compressed (only if that is smaller)."""
    raw = text.encode("utf-8")
    if compress:
        packed = zlib.compress(raw, _ZLIB_LEVEL)
        if len(packed) < len(raw):
            return packed, True
    return raw, False


def unpack_text(blob: bytes, compressed: bool) -> str:
    return (zlib.decompress(blob) if compressed else blob).decode("utf-8")


# Punctuation that ends or wraps a word rather than being part of it.
EDGE_PUNCTUATION = ".,;:!?'\"()[]{}"


def words(text: str) -> tuple[str, ...]:
    """A text's words, case-folded, without the punctuation around them: what two
    memories must share to be repetitions of each other."""
    return tuple(word for raw in text.split() if (word := raw.strip(EDGE_PUNCTUATION).casefold()))


def text_key(kind: str, text: str) -> int:
    """A 64-bit hash of a kind and a text's words: memories that repeat one share it,
    whatever their case, spacing and punctuation (which move MiniLM's vector:
    "renew the passport" and "Renew the passport!" are only 0.906 alike)."""
    digest = hashlib.blake2b(f"{kind}\0{' '.join(words(text))}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def normalized(vectors: npt.ArrayLike) -> Matrix:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)
