"""Walking to a file's directory without following a link, for a caller."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noos.protocol.errors import PermissionDenied
from noosd.index.storage.access import Caller
from noosd.index.storage.walking import VANISHED, ParentDirectory, Refused, open_parent

ALICE = Caller(1000, frozenset({1000}))


def reached(path: Path, caller: Caller | None = None) -> os.stat_result | Refused:
    parent = open_parent(path, caller)
    if isinstance(parent, Refused):
        return parent
    assert isinstance(parent, ParentDirectory)
    with parent:
        return parent.lstat()


def test_a_file_is_reached_through_real_directories(files: Path) -> None:
    (files / "a" / "b").mkdir(parents=True)
    path = files / "a" / "b" / "note.txt"
    path.write_text("hello\n")
    status = reached(path, ALICE)
    assert isinstance(status, os.stat_result) and status.st_ino == path.stat().st_ino


def test_a_link_in_any_directory_of_the_path_refuses_it(files: Path) -> None:
    (files / "real").mkdir()
    (files / "real" / "note.txt").write_text("hello\n")
    (files / "link").symlink_to(files / "real")
    refused = reached(files / "link" / "note.txt")
    assert isinstance(refused, Refused) and "symbolic link" in refused.reason


def test_a_missing_directory_or_a_file_in_its_place_is_vanished(files: Path) -> None:
    (files / "plain.txt").write_text("hello\n")
    assert reached(files / "gone" / "note.txt") == Refused(VANISHED)
    assert reached(files / "plain.txt" / "note.txt") == Refused(VANISHED)


@pytest.mark.skipif(os.geteuid() != 0, reason="owning files as others needs root")
def test_a_caller_who_may_not_search_a_directory_learns_nothing_below_it(files: Path) -> None:
    closed = files / "closed"
    closed.mkdir()
    os.chown(closed, 4242, 4242)
    closed.chmod(0o700)
    (closed / "link").symlink_to(files)
    with pytest.raises(PermissionDenied, match="may not look into"):
        open_parent(closed / "link" / "note.txt", ALICE)
    with pytest.raises(PermissionDenied, match="may not look into"):
        open_parent(closed / "nothing-here.txt", ALICE)


def test_relative_and_unnormalised_paths_are_refused() -> None:
    for path in (Path("notes/a.txt"), Path("/home/../etc/passwd"), Path("/")):
        assert isinstance(open_parent(path), Refused)
