"""Vectors kept in RAM as the rows of one matrix, searched exactly.

The memory store keeps its hot tier here in float32 and its cold tier in int8
(`quantize`); the index keeps every chunk in int8, each row tagged with its
file (a `group`), so that a query's filters, which select files, become a
mask over the rows. Reading the rows bounds a search more than the arithmetic
does, so int8 rows (a quarter of float32's bytes) make it faster: 5,800 of
100,000 rows gathered by a mask take ~1 ms against float32's ~2.5 ms (float16
is slower still, for numpy converts it slowly); all 100,000 take ~7-15 ms on
one core.

Rows are gathered (by a mask), converted to float32 and multiplied a block at
a time, in buffers that stay in cache; an int8 row's scale multiplies its
cosine, not its vector (one product instead of `dim`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from noosd.shared.arrays import Matrix, remove_rows, with_room_for
from noosd.shared.quantize import Codes, Scales, quantized

IdArray = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Vector = npt.NDArray[np.float32]
# Rows gathered, converted and multiplied at a time: 1024 x 384 float32 is 1.5 MiB.
BLOCK_ROWS = 1024
# The cosines a search holds before narrowing them to its k best (1 MiB): one
# query ranks up to this many rows with a single partial sort.
SPAN_CELLS = 262144


class VectorMatrix:
    """Rows of unit vectors by id, float32 or `quantized` to int8, each with a
    group (an id of the caller's: the index's file ids) when `grouped`.

    Removal is O(1): the last row fills the hole. `version` changes with every
    change, so that a copy elsewhere (a GPU's) knows it is stale. Used by one
    thread at a time (its buffers).
    """

    def __init__(self, dim: int, *, quantized: bool, grouped: bool = False) -> None:
        self.dim = dim
        self.quantized = quantized
        self.grouped = grouped
        self.version = 0
        self._count = 0
        self._ids: IdArray = np.empty(0, dtype=np.int64)
        # int8 when quantized, float32 otherwise.
        self._vectors: npt.NDArray[Any] = np.empty(
            (0, dim), dtype=np.int8 if quantized else np.float32
        )
        self._scales: Scales = np.empty(0, dtype=np.float32)
        self._groups: IdArray = np.empty(0, dtype=np.int64)
        self._largest_group = -1
        self._rows: dict[int, int] = {}
        # Made on the first search that needs them: a user's matrix that is
        # never searched costs no buffer.
        self._gathered: npt.NDArray[Any] | None = None
        self._converted: Matrix | None = None

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item_id: int) -> bool:
        return item_id in self._rows

    @property
    def ids(self) -> IdArray:
        return self._ids[: self._count]

    # --- changing ---

    def add(self, ids: Sequence[int], vectors: Matrix, groups: Sequence[int] | None = None) -> None:
        """Add float32 rows (quantized here if the matrix is); an id present is replaced."""
        if self.quantized:
            codes, scales = quantized(vectors)
            self._append(ids, codes, scales, groups)
        else:
            self._append(ids, vectors, None, groups)

    def add_quantized(
        self, ids: Sequence[int], codes: Codes, scales: Scales, groups: Sequence[int] | None = None
    ) -> None:
        """Add int8 rows with their scales, as `quantize.quantized` made them."""
        if not self.quantized:
            raise ValueError("only a quantized matrix takes int8 codes")
        self._append(ids, codes, scales, groups)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove the rows of these ids; ids not here are ignored."""
        count = remove_rows(ids, self._rows, self._count, self._ids, *self._columns())
        self.version += self._count - count
        self._count = count

    # --- searching ---

    def top(self, queries: Matrix, k: int, mask: Mask | None = None) -> tuple[IdArray, Matrix]:
        """The ids and cosines of the k rows (of the mask's, if any) nearest each
        query, nearest first: one row per query, min(k, rows) columns.

        Vectors are unit length, so the dot product is the cosine. The cosines
        of a span of rows are narrowed to the k best before the next span's.
        """
        rows = None if mask is None else np.flatnonzero(mask)
        total = self._count if rows is None else len(rows)
        k = min(k, total)
        span = max(BLOCK_ROWS, SPAN_CELLS // max(len(queries), 1) // BLOCK_ROWS * BLOCK_ROWS)
        best = np.empty((len(queries), 0), dtype=np.int64)
        best_sims = np.empty((len(queries), 0), dtype=np.float32)
        for start in range(0, total, span):
            stop = min(start + span, total)
            sims = self._cosines(queries, start, stop, rows)
            positions = np.broadcast_to(np.arange(start, stop), sims.shape)
            if best.shape[1]:
                positions = np.concatenate([best, positions], axis=1)
                sims = np.concatenate([best_sims, sims], axis=1)
            best, best_sims = _keep_top(positions, sims, k)
        order = np.argsort(-best_sims, axis=1, kind="stable")
        best = _columns_of(best, order)
        found = best if rows is None else rows[best]
        return self._ids[found], _columns_of(best_sims, order)

    def within(self, queries: Matrix, min_sim: float) -> tuple[IdArray, IdArray, Matrix]:
        """Every (query position, id, cosine) with a cosine of at least min_sim.

        Cheaper than `top` when few rows qualify: no partial sort, one compare.
        """
        positions, ids, sims = [], [], []
        for start in range(0, self._count, BLOCK_ROWS):
            stop = min(start + BLOCK_ROWS, self._count)
            block = self._cosines(queries, start, stop, None)
            found, columns = np.nonzero(block >= min_sim)
            positions.append(found)
            ids.append(self._ids[start:stop][columns])
            sims.append(block[found, columns])
        if not positions:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
        return (
            np.concatenate(positions).astype(np.int64),
            np.concatenate(ids),
            np.concatenate(sims),
        )

    def cosines(self, query: Vector, ids: Sequence[int]) -> Vector:
        """The cosine of each of these ids' rows (all of them here) with the query."""
        rows = np.fromiter((self._rows[item_id] for item_id in ids), dtype=np.int64)
        sims: Vector = self._cosines(query[None, :], 0, len(rows), rows)[0]
        return sims

    def dense(self) -> Matrix:
        """All rows as float32 (dequantized if need be)."""
        block = np.asarray(self._vectors[: self._count], dtype=np.float32)
        if self.quantized:
            block *= self._scales[: self._count, None]
        return block

    # --- groups ---

    def group_of(self, item_id: int) -> int | None:
        row = self._rows.get(item_id)
        return None if row is None else int(self._groups[row])

    @property
    def groups(self) -> IdArray:
        """The group of each row, in row order."""
        return self._groups[: self._count]

    def groups_of(self, item_ids: IdArray, mask: Mask | None = None) -> tuple[IdArray, Mask]:
        """The group of each of these ids' rows (-1 for an id not here), and
        whether each is here and in the mask if there is one (`allows`)."""
        rows = np.fromiter(
            (self._rows.get(item_id, -1) for item_id in item_ids.tolist()),
            dtype=np.int64,
            count=len(item_ids),
        )
        present = rows >= 0
        groups = np.full(len(rows), -1, dtype=np.int64)
        groups[present] = self._groups[rows[present]]
        if mask is not None:
            present[present] = mask[rows[present]]
        return groups, present

    def rows_in_groups(self, groups: IdArray) -> Mask:
        """The mask of the rows whose group is one of `groups`: one look-up table."""
        lookup = np.zeros(self._largest_group + 1, dtype=np.bool_)
        lookup[groups[groups <= self._largest_group]] = True
        return lookup[self._groups[: self._count]]

    def allows(self, mask: Mask | None, item_id: int) -> bool:
        """Whether the id is here, and in the mask if there is one."""
        row = self._rows.get(item_id)
        return row is not None and (mask is None or bool(mask[row]))

    # --- inside ---

    def _append(
        self,
        ids: Sequence[int],
        vectors: npt.NDArray[Any],
        scales: Scales | None,
        groups: Sequence[int] | None,
    ) -> None:
        if self.grouped != (groups is not None):
            raise ValueError("a grouped matrix takes a group for each row, and only it")
        if not len(ids):
            return
        if vectors.shape[1] != self.dim:
            raise RuntimeError(
                f"vectors of {vectors.shape[1]} dimensions for a matrix of {self.dim}: "
                "vectors of another model need re-embedding"
            )
        self.remove(ids)
        end = self._count + len(ids)
        self._reserve(end)
        self._ids[self._count : end] = ids
        self._vectors[self._count : end] = vectors
        if scales is not None:
            self._scales[self._count : end] = scales
        if groups is not None:
            self._groups[self._count : end] = groups
            self._largest_group = max(self._largest_group, int(np.max(groups)))
        for row, item_id in enumerate(ids, start=self._count):
            self._rows[int(item_id)] = row
        self._count = end
        self.version += 1

    def _columns(self) -> tuple[npt.NDArray[Any], ...]:
        """The arrays in use beside the ids: a removal moves a row in each."""
        return (
            self._vectors,
            *((self._scales,) if self.quantized else ()),
            *((self._groups,) if self.grouped else ()),
        )

    def _reserve(self, count: int) -> None:
        grown = iter(with_room_for(count, self._ids, *self._columns()))
        self._ids, self._vectors = next(grown), next(grown)
        if self.quantized:
            self._scales = next(grown)
        if self.grouped:
            self._groups = next(grown)

    def _cosines(self, queries: Matrix, start: int, stop: int, rows: IdArray | None) -> Matrix:
        """The cosines of each query with the rows start:stop (of `rows`, if given)."""
        sims = np.empty((len(queries), stop - start), dtype=np.float32)
        for first in range(start, stop, BLOCK_ROWS):
            last = min(first + BLOCK_ROWS, stop)
            picked = None if rows is None else rows[first:last]
            out = sims[:, first - start : last - start]
            np.matmul(self._block(first, last, picked), queries.T, out=out.T)
            if self.quantized:
                out *= self._scales[first:last] if picked is None else self._scales[picked]
        return sims

    def _block(self, start: int, stop: int, picked: IdArray | None) -> Matrix:
        """Rows start:stop (or the `picked` rows) as float32, unscaled: a view of
        float32 rows in place, else a buffer."""
        if picked is None and not self.quantized:
            return np.asarray(self._vectors[start:stop])
        if self._converted is None:
            self._converted = np.empty((BLOCK_ROWS, self.dim), dtype=np.float32)
        size = stop - start
        converted = self._converted[:size]
        if picked is None:
            np.copyto(converted, self._vectors[start:stop])
        elif not self.quantized:
            np.take(self._vectors, picked, axis=0, out=converted)
        else:
            if self._gathered is None:
                self._gathered = np.empty((BLOCK_ROWS, self.dim), dtype=np.int8)
            gathered = self._gathered[:size]
            np.take(self._vectors, picked, axis=0, out=gathered)
            np.copyto(converted, gathered)
        return converted


def _keep_top(positions: IdArray, sims: Matrix, k: int) -> tuple[IdArray, Matrix]:
    """The k columns of highest cosine in each row, in no particular order."""
    if sims.shape[1] <= k:
        return positions, sims
    keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return _columns_of(positions, keep), _columns_of(sims, keep)


def _columns_of(array: npt.NDArray[Any], columns: IdArray) -> npt.NDArray[Any]:
    """`columns[i]` of each row i of `array`: `np.take_along_axis` without its
    checks, which cost more than the indexing at one query."""
    return array[np.arange(len(array))[:, None], columns]
