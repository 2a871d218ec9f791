"""What a user is told of the index's roots and where their counts count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noosd.index.live.roots import IndexedRoot
from noosd.index.storage.access import Caller
from noosd.index.storage.callers import User
from noosd.index.storage.shown import own_directories, shown_roots

ALICE = User(Caller(1000, frozenset({1000})), Path("/home/alice"), "alice")
ROOT = User(Caller(0, frozenset({0})), Path("/root"), "root")
HOME = IndexedRoot(Path("/home"))
ALICES = IndexedRoot(Path("/media/alice/STICK"), "uuid-a")
ALICES_RUN = IndexedRoot(Path("/run/media/alice/CARD"), "uuid-c")
BOBS = IndexedRoot(Path("/media/bob/DIARY"), "uuid-b")
# A name that begins like alice's is not hers.
ALICIAS = IndexedRoot(Path("/media/alicia/NOTES"), "uuid-n")
ROOTS = [HOME, ALICES, ALICES_RUN, BOBS, ALICIAS]


def test_a_user_is_told_of_the_system_roots_and_the_media_mounted_for_them() -> None:
    assert shown_roots(ROOTS, ALICE) == [HOME, ALICES, ALICES_RUN]
    assert shown_roots(ROOTS, ROOT) == ROOTS


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_medium_owned_by_the_user_is_theirs_wherever_it_is_mounted(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    theirs.mkdir()
    os.chown(mine, ALICE.caller.uid, -1)
    roots = [IndexedRoot(mine, "uuid-m"), IndexedRoot(theirs, "uuid-t")]

    assert shown_roots(roots, ALICE) == roots[:1]


def test_a_users_counts_are_of_their_home_and_their_media() -> None:
    assert own_directories(ROOTS, ALICE) == [ALICE.home, ALICES.path, ALICES_RUN.path]
    homeless = User(Caller(65534, frozenset()), None, None)
    assert own_directories([HOME, BOBS], homeless) == []
