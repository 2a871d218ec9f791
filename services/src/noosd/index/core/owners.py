"""Who owns each indexed file, in RAM: the lexical ranking weighs a query's
words among the caller's own chunks (see `noosd.index.search`), and counts
them with one gather over this array, never a query per chunk.

An owner is the file's uid as it was indexed (a chown is seen when the file is
indexed again, as its inotify event makes it). File ids are never reused, so
a forgotten file's entry is left as it was: no chunk names it any more.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IdArray = npt.NDArray[np.int64]
# The owner of a file id that was never set: no uid.
UNKNOWN = -1


class FileOwners:
    """The uid of each file, by file id."""

    def __init__(self) -> None:
        self._uids: IdArray = np.empty(0, dtype=np.int64)

    def set(self, file_ids: Sequence[int] | IdArray, uids: Sequence[int] | IdArray) -> None:
        ids = np.asarray(file_ids, dtype=np.int64)
        if not len(ids):
            return
        largest = int(ids.max())
        if largest >= len(self._uids):
            grown = np.full(max(largest + 1, 2 * len(self._uids)), UNKNOWN, dtype=np.int64)
            grown[: len(self._uids)] = self._uids
            self._uids = grown
        self._uids[ids] = np.asarray(uids, dtype=np.int64)

    def count_owned(self, file_ids: IdArray, uid: int) -> int:
        """How many of these file ids (one per chunk, repeated; -1 for none) `uid` owns."""
        known = (file_ids >= 0) & (file_ids < len(self._uids))
        return int(np.count_nonzero(self._uids[file_ids[known]] == uid))
