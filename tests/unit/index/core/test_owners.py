from __future__ import annotations

import numpy as np

from noosd.index.core.owners import FileOwners


def test_owned_chunks_are_counted_by_their_files_owner_as_last_set() -> None:
    owners = FileOwners()
    owners.set([3, 1], [1000, 65534])
    owners.set([700], [1000])
    owners.set([3], [4242])  # a chown, seen at the file's next indexing
    # A file id per chunk: repeated for a file's chunks, -1 for a chunk of no file,
    # and ids beyond any set (2, 9000) belong to nobody.
    chunks = np.array([3, 3, 1, 700, 700, 2, -1, 9000], dtype=np.int64)
    assert owners.count_owned(chunks, 1000) == 2
    assert owners.count_owned(chunks, 4242) == 2
    assert owners.count_owned(chunks, 65534) == 1
    assert owners.count_owned(np.empty(0, dtype=np.int64), 1000) == 0
