"""Every chunk's vector in RAM, searched exactly, within the rows a filter allows.

One row per chunk, with the id of the chunk's file beside it. A query's
filters select files (in SQLite, by indexed columns); `rows_of_files` turns
them into a mask over the rows with one look-up table, and `top` multiplies
only the rows the mask keeps.

Rows are int8 with a float32 scale each (symmetric quantisation: v ~ q *
scale, |q| <= 127; cosines within ~2e-3 of float32's): a filtered search
gathers scattered rows, and the time that takes is the bytes read, so int8
rows make it 2.5x faster than float32 ones (5,800 of 100,000 rows: ~1 ms
against ~2.5 ms here; float16 is slower still, for numpy converts it
slowly). 100,000 rows take 38 MB. Rows are gathered, converted to float32
and multiplied a block at a time, in buffers that stay in cache. An
unfiltered search of every row (~15 ms at 100,000) is what chromadb's HNSW
index is for (see `search`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from noosd.shared.arrays import remove_rows, with_room_for
from noosd.shared.embedding import Matrix

IdArray = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Vector = npt.NDArray[np.float32]
# Rows gathered, converted and multiplied at a time: 1024 x 384 float32 is 1.5 MiB.
BLOCK_ROWS = 1024


def quantized(vectors: Matrix) -> tuple[npt.NDArray[np.int8], Vector]:
    """Each row's int8 codes and the scale that maps them back."""
    peaks = np.max(np.abs(vectors), axis=1) if vectors.size else np.empty(0, np.float32)
    scales = np.where(peaks > 0, peaks / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales


class ChunkVectors:
    """Quantised rows by chunk id, each with its file's id; O(1) removal (the
    last row fills the hole). Used by one thread at a time (its buffers)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._count = 0
        self._ids: IdArray = np.empty(0, dtype=np.int64)
        self._file_ids: IdArray = np.empty(0, dtype=np.int64)
        self._codes: npt.NDArray[np.int8] = np.empty((0, dim), dtype=np.int8)
        self._scales: Vector = np.empty(0, dtype=np.float32)
        self._rows: dict[int, int] = {}
        self._largest_file_id = -1
        self._gathered = np.empty((BLOCK_ROWS, dim), dtype=np.int8)
        self._converted = np.empty((BLOCK_ROWS, dim), dtype=np.float32)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self._rows

    def add(self, chunk_ids: Sequence[int], file_ids: Sequence[int], vectors: Matrix) -> None:
        """Add rows; a chunk id present is replaced."""
        if not len(chunk_ids):
            return
        if vectors.shape[1] != self.dim:
            raise RuntimeError(
                f"vectors of {vectors.shape[1]} dimensions for a matrix of {self.dim}: "
                "an index built with another model needs re-embedding"
            )
        self.remove(chunk_ids)
        end = self._count + len(chunk_ids)
        self._reserve(end)
        self._ids[self._count : end] = chunk_ids
        self._file_ids[self._count : end] = file_ids
        self._codes[self._count : end], self._scales[self._count : end] = quantized(vectors)
        for row, chunk_id in enumerate(chunk_ids, start=self._count):
            self._rows[int(chunk_id)] = row
        self._count = end
        self._largest_file_id = max(self._largest_file_id, int(np.max(file_ids)))

    def remove(self, chunk_ids: Iterable[int]) -> None:
        """Remove the rows of these chunks; ids not here are ignored."""
        self._count = remove_rows(
            chunk_ids, self._rows, self._count, self._ids, self._file_ids, self._codes, self._scales
        )

    def file_of(self, chunk_id: int) -> int | None:
        row = self._rows.get(chunk_id)
        return None if row is None else int(self._file_ids[row])

    def rows_of_files(self, file_ids: IdArray) -> Mask:
        """The mask of the rows whose file is one of `file_ids`."""
        lookup = np.zeros(self._largest_file_id + 1, dtype=np.bool_)
        lookup[file_ids[file_ids <= self._largest_file_id]] = True
        return lookup[self._file_ids[: self._count]]

    def allows(self, mask: Mask | None, chunk_id: int) -> bool:
        """Whether the chunk is here, and in the mask if there is one."""
        row = self._rows.get(chunk_id)
        return row is not None and (mask is None or bool(mask[row]))

    def top(self, query: Vector, k: int, mask: Mask | None = None) -> tuple[IdArray, Vector]:
        """The ids and cosines of the k rows (of the mask's, if any) nearest the
        query, nearest first. Vectors are unit length: the dot product is the cosine."""
        rows = np.arange(self._count) if mask is None else np.flatnonzero(mask)
        sims = self._cosines(query, rows)
        k = min(k, len(sims))
        best = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        best = best[np.argsort(-sims[best], kind="stable")]
        return self._ids[rows[best]], sims[best]

    def cosines(self, query: Vector, chunk_ids: Sequence[int]) -> Vector:
        """The cosine of each of these chunks (all of them here) with the query."""
        rows = np.fromiter((self._rows[chunk_id] for chunk_id in chunk_ids), dtype=np.int64)
        return self._cosines(query, rows)

    def _cosines(self, query: Vector, rows: IdArray) -> Vector:
        sims = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), BLOCK_ROWS):
            block = rows[start : start + BLOCK_ROWS]
            gathered = self._gathered[: len(block)]
            converted = self._converted[: len(block)]
            np.take(self._codes, block, axis=0, out=gathered)
            np.copyto(converted, gathered)
            sims[start : start + len(block)] = (converted @ query) * self._scales[block]
        return sims

    def _reserve(self, count: int) -> None:
        self._ids, self._file_ids, self._codes, self._scales = with_room_for(
            count, self._ids, self._file_ids, self._codes, self._scales
        )
