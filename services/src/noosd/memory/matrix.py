"""Vectors kept in RAM as the rows of one matrix, searched exhaustively.

The hot tier keeps float32 rows; the cold tier int8 rows with a scale each
(`codec.quantize`), a quarter of the RAM, converted to float32 a block of rows
at a time for the matrix product: a block stays in cache, and reading int8
costs a quarter of the memory bandwidth, which bounds a search more than the
arithmetic does (100,000 int8 rows: ~7 ms on one core).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from noosd.memory.codec import Matrix
from noosd.shared.arrays import remove_rows, with_room_for

IdArray = npt.NDArray[np.int64]
# Rows converted and multiplied at a time: 4096 x 384 float32 is 6 MiB.
BLOCK_ROWS = 4096


class VectorMatrix:
    """Rows of vectors by id, with O(1) removal (the last row fills the hole)."""

    def __init__(self, dim: int, *, quantized: bool) -> None:
        self.dim = dim
        self.quantized = quantized
        self._count = 0
        self._ids: IdArray = np.empty(0, dtype=np.int64)
        # float32, or int8 when quantized.
        self._vectors: npt.NDArray[Any] = np.empty(
            (0, dim), dtype=np.int8 if quantized else np.float32
        )
        self._scales: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self._rows: dict[int, int] = {}
        # Bumped on every change, so that a copy elsewhere (a GPU) knows it is stale.
        self.version = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, memory_id: int) -> bool:
        return memory_id in self._rows

    @property
    def ids(self) -> IdArray:
        return self._ids[: self._count]

    def add(
        self,
        ids: Sequence[int],
        vectors: npt.NDArray[np.float32] | npt.NDArray[np.int8],
        scales: npt.NDArray[np.float32] | None = None,
    ) -> None:
        """Add rows (int8 codes with their scales if quantized); an id present is replaced."""
        if self.quantized != (scales is not None):
            raise ValueError("a quantized matrix takes int8 codes with scales, and only it")
        self.remove(ids)
        added = len(ids)
        self._reserve(self._count + added)
        end = self._count + added
        self._ids[self._count : end] = ids
        self._vectors[self._count : end] = vectors
        if scales is not None:
            self._scales[self._count : end] = scales
        for row, memory_id in enumerate(ids, start=self._count):
            self._rows[memory_id] = row
        self._count = end
        self.version += 1

    def remove(self, ids: Iterable[int]) -> None:
        """Remove the rows of these ids; ids not here are ignored."""
        # Only a quantized matrix's scales are in use.
        scales = (self._scales,) if self.quantized else ()
        count = remove_rows(ids, self._rows, self._count, self._ids, self._vectors, *scales)
        self.version += self._count - count
        self._count = count

    def dense(self) -> Matrix:
        """All rows as float32 (dequantized if need be)."""
        return self._block(0, self._count)

    def top(self, queries: Matrix, k: int) -> tuple[IdArray, Matrix]:
        """The ids and cosines of the k rows nearest each query, nearest first.

        Vectors are unit length, so the dot product is the cosine. Both results
        have one row per query and min(k, len(self)) columns.
        """
        k = min(k, self._count)
        best_ids = np.empty((len(queries), 0), dtype=np.int64)
        best_sims = np.empty((len(queries), 0), dtype=np.float32)
        for start in range(0, self._count, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, self._count)
            sims = queries @ self._block(start, stop).T
            ids = np.broadcast_to(self._ids[start:stop], sims.shape)
            best_ids, best_sims = _keep_top(
                np.concatenate([best_ids, ids], axis=1),
                np.concatenate([best_sims, sims], axis=1),
                k,
            )
        order = np.argsort(-best_sims, axis=1, kind="stable")
        return np.take_along_axis(best_ids, order, 1), np.take_along_axis(best_sims, order, 1)

    def within(self, queries: Matrix, min_sim: float) -> tuple[IdArray, IdArray, Matrix]:
        """Every (query position, id, cosine) with a cosine of at least min_sim.

        Cheaper than `top` when few rows qualify: no partial sort, one compare.
        """
        positions, ids, sims = [], [], []
        for start in range(0, self._count, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, self._count)
            block = queries @ self._block(start, stop).T
            rows, columns = np.nonzero(block >= min_sim)
            positions.append(rows)
            ids.append(self._ids[start:stop][columns])
            sims.append(block[rows, columns])
        if not positions:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
        return (
            np.concatenate(positions).astype(np.int64),
            np.concatenate(ids),
            np.concatenate(sims),
        )

    def _block(self, start: int, stop: int) -> Matrix:
        if not self.quantized:
            return np.asarray(self._vectors[start:stop], dtype=np.float32)
        block = self._vectors[start:stop].astype(np.float32)
        block *= self._scales[start:stop, None]
        return block

    def _reserve(self, count: int) -> None:
        self._ids, self._vectors, self._scales = with_room_for(
            count, self._ids, self._vectors, self._scales
        )


def _keep_top(ids: IdArray, sims: Matrix, k: int) -> tuple[IdArray, Matrix]:
    """The k columns of highest similarity in each row, in no particular order."""
    if sims.shape[1] <= k:
        return ids, sims
    keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return np.take_along_axis(ids, keep, 1), np.take_along_axis(sims, keep, 1)
