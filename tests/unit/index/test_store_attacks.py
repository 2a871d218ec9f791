"""Attacks on the index engine by a second local user, made deterministic: what
the attacker does between the service's check and its read happens in the
engine's `before_read` seam, and the attacker's searches are made as its
`Caller` (the tests run as root, and own files as other users with chown).

The attacker is uid 65534 (nobody); the victim another uid. Each test asserts
what the attacker must never get: the victim's words in a hit, or a score that
says whether the victim has a file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from noos.protocol.errors import PermissionDenied
from noosd.index.storage.access import Caller
from noosd.index.storage.targets import check_readable
from noosd.index.store import IndexStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owning files as others needs root")

ATTACKER = Caller(65534, frozenset({65534}))
VICTIM_UID = 4242
SECRET = "The heron safe combination is 7741-0093, kept under the floorboard."
SECRET_QUERY = "heron safe combination floorboard"
DECOY = "Shopping list: apples, oat milk, and a new bicycle bell."


def owned(path: Path, uid: int, mode: int) -> Path:
    os.chown(path, uid, uid, follow_symlinks=False)
    if not path.is_symlink():
        path.chmod(mode)
    return path


def a_dir(path: Path, uid: int, mode: int) -> Path:
    path.mkdir()
    return owned(path, uid, mode)


def a_file(path: Path, text: str, uid: int, mode: int) -> Path:
    path.write_text(text + "\n")
    return owned(path, uid, mode)


def point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` at once (a rename over it), as its owner."""
    staged = link.with_name(link.name + ".new")
    staged.symlink_to(target)
    owned(staged, ATTACKER.uid, 0)
    staged.replace(link)


def secret_words_seen(engine: IndexStore, caller: Caller) -> list[str]:
    """The hits of the caller's search for the secret that show its words."""
    hits = engine.search(SECRET_QUERY, 20, caller)
    return [hit.path for hit in hits if "7741" in hit.snippet.numbered()]


def victims_private_file(files: Path) -> Path:
    """A victim's file of mode 0600 in its directory of mode 0700."""
    private = a_dir(files / "victim", VICTIM_UID, 0o700)
    return a_file(private / "diary.txt", SECRET, VICTIM_UID, 0o600)


def test_a_parent_symlink_swapped_before_the_read_never_shows_another_users_file(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    """Finding 1: the attacker names `link/diary.txt` with `link` pointing at its
    own decoy, so the check passes; before the read it points `link` at the
    victim's directory, and after it points it back."""
    secret = victims_private_file(files)
    attacker = a_dir(files / "attacker", ATTACKER.uid, 0o755)
    decoy = a_dir(attacker / "decoy", ATTACKER.uid, 0o755)
    a_file(decoy / "diary.txt", DECOY, ATTACKER.uid, 0o644)
    link = attacker / "link"
    point(link, decoy)
    named = link / "diary.txt"

    def swap(path: Path) -> None:
        if path == named:
            point(link, secret.parent)

    engine = make_engine(before_read=swap)
    check_readable(named, ATTACKER)  # what IndexFile checks for the caller: the decoy
    engine.index_file(named)  # the read, later, on a worker (or the watcher's, after its debounce)
    point(link, decoy)
    assert secret_words_seen(engine, ATTACKER) == []


def test_a_hard_link_swapped_in_before_the_read_never_shows_another_users_file(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    """Finding 1, by a hard link (where fs.protected_hardlinks is 0): the
    attacker's own notes.txt is checked; before the read it is replaced by a
    hard link to the victim's private file in a directory anyone may search,
    and after the read put back, so that the path's check passes at search."""
    shared = a_dir(files / "victim-shared", VICTIM_UID, 0o755)
    secret = a_file(shared / "diary.txt", SECRET, VICTIM_UID, 0o600)
    attacker = a_dir(files / "attacker", ATTACKER.uid, 0o755)
    named = a_file(attacker / "notes.txt", DECOY, ATTACKER.uid, 0o644)
    kept = attacker / "notes.kept"

    def swap(path: Path) -> None:
        if path == named:
            named.rename(kept)
            os.link(secret, named)

    engine = make_engine(before_read=swap)
    check_readable(named, ATTACKER)
    engine.index_file(named)
    kept.replace(named)
    assert secret_words_seen(engine, ATTACKER) == []


def test_index_file_for_a_caller_decides_on_the_file_it_opens(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    """Finding 1, IndexFile's check made where the read is: the hard link swapped
    in after the check is refused for the caller, and nothing is written; a
    parent swapped to a link is refused as such."""
    shared = a_dir(files / "victim-shared", VICTIM_UID, 0o755)
    secret = a_file(shared / "diary.txt", SECRET, VICTIM_UID, 0o600)
    attacker = a_dir(files / "attacker", ATTACKER.uid, 0o755)
    named = a_file(attacker / "notes.txt", DECOY, ATTACKER.uid, 0o644)
    real = a_dir(attacker / "real", ATTACKER.uid, 0o755)
    through = a_file(real / "notes.txt", DECOY, ATTACKER.uid, 0o644)

    def swap(path: Path) -> None:
        if path == named:
            named.unlink()
            os.link(secret, named)
        elif path == through:
            real.rename(attacker / "real.kept")
            point(real, secret.parent)

    engine = make_engine(before_read=swap)
    with pytest.raises(PermissionDenied, match="may not read"):
        engine.index_file(named, caller=ATTACKER)
    assert engine.failures() == []
    assert engine.indexed_paths(attacker) == []
    skipped = engine.index_file(through, caller=ATTACKER).skipped
    assert skipped is not None and "symbolic link" in skipped
    assert engine.indexed_paths(attacker) == []


def test_a_callers_scores_do_not_depend_on_files_it_may_not_read(
    engine: IndexStore, files: Path
) -> None:
    """Finding 5: the attacker's bait shares a rare word with the victim's
    private file; the bait's score must say nothing of whether that file exists."""
    attacker = a_dir(files / "attacker", ATTACKER.uid, 0o755)
    bait = a_file(attacker / "bait.txt", "Notes on the quokkaberry harvest.", ATTACKER.uid, 0o644)
    private = a_dir(files / "victim", VICTIM_UID, 0o700)
    secret = a_file(
        private / "plans.txt", "My quokkaberry merger plans, confidential.", VICTIM_UID, 0o600
    )

    def bait_score() -> float:
        hits = {hit.path: hit.score for hit in engine.search("quokkaberry", 10, ATTACKER)}
        assert str(secret) not in hits
        return hits[str(bait)]

    engine.index_file(bait)
    alone = bait_score()
    engine.index_file(secret)
    beside_the_secret = bait_score()
    engine.forget(secret)
    assert (alone, beside_the_secret, bait_score()) == (alone, alone, alone)
