"""Tables of rows by id in numpy arrays, as the services' in-RAM vector
matrices (`matrix.VectorMatrix`) keep them: each column (ids, vectors,
scales...) is an array with spare rows at its end, grown together with the
others, and a dict gives each id's row. Rows are added at the end, and a
removed row's hole is filled by the last row, so that both cost O(1) and the
rows in use stay contiguous."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

# Vectors as the rows of a float32 matrix: what an embedder returns, and what is searched.
Matrix = npt.NDArray[np.float32]

# The fewest rows a grown array has: the first additions copy nothing again.
MIN_CAPACITY = 64


def with_room_for(count: int, *arrays: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], ...]:
    """`arrays` (of as many rows each) with at least `count` rows: the same
    arrays when they have them, else copies into new ones.

    A grown array has at least twice the rows it had, so that appending n rows
    one call at a time copies O(n) rows in all. Rows past the ones copied are
    uninitialised.
    """
    capacity = len(arrays[0])
    if count <= capacity:
        return arrays
    capacity = max(count, 2 * capacity, MIN_CAPACITY)
    return tuple(_grown(array, capacity) for array in arrays)


def remove_rows(
    ids: Iterable[int],
    rows: dict[int, int],
    count: int,
    row_ids: npt.NDArray[np.int64],
    *columns: npt.NDArray[Any],
) -> int:
    """Remove the rows of `ids` from the first `count` rows of a table; returns
    the new count.

    `rows` gives each id's row and `row_ids` each row's id (both are updated);
    an id not in `rows` is ignored. The last row fills each hole, in `row_ids`
    and in every one of `columns`.
    """
    for item_id in ids:
        row = rows.pop(int(item_id), None)
        if row is None:
            continue
        last = count - 1
        if row != last:
            moved = int(row_ids[last])
            row_ids[row] = moved
            for column in columns:
                column[row] = column[last]
            rows[moved] = row
        count = last
    return count


def _grown(array: npt.NDArray[Any], capacity: int) -> npt.NDArray[Any]:
    grown: npt.NDArray[Any] = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
