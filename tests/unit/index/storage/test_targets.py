"""Which indexed root a named file is under, while the service starts and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from noos.protocol.errors import InvalidArgument, Unavailable
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.storage.targets import indexed_root


def test_a_file_under_a_root_not_yet_watched_is_unavailable_not_invalid(tmp_path: Path) -> None:
    # A service just (re)started serves before its roots are all watched: a
    # caller's good path must hear "retry", not that it is outside the index.
    roots = RootSet()
    with pytest.raises(Unavailable, match="starting to watch"):
        indexed_root(tmp_path / "notes/a.txt", roots, [tmp_path])
    roots.add(IndexedRoot(tmp_path))
    assert indexed_root(tmp_path / "notes/a.txt", roots, [tmp_path]).path == tmp_path


def test_a_file_outside_every_root_or_a_root_itself_is_an_invalid_argument(tmp_path: Path) -> None:
    roots = RootSet()
    with pytest.raises(InvalidArgument, match="not a file under an indexed directory"):
        indexed_root(Path("/elsewhere/a.txt"), roots, [tmp_path])
    with pytest.raises(InvalidArgument):
        indexed_root(tmp_path, roots, [tmp_path])
