"""Who may see a found file: the mode bits of the file and of every directory
above it, for an explicit caller (the tests run as root, so `os.access` would
say yes to everything)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noosd.index.storage.access import AccessCheck, Caller, permits

OTHER_USER = 4242
OTHER_GROUP = 4343
ALICE = Caller(1000, frozenset({1000}))
ALICE_IN_GROUP = Caller(1000, frozenset({1000, OTHER_GROUP}))
ROOT = Caller(0, frozenset({0}))


def owned(path: Path, mode: int, uid: int = OTHER_USER, gid: int = OTHER_GROUP) -> Path:
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


def a_file(directory: Path, mode: int, name: str = "file.txt", **owner: int) -> Path:
    path = directory / name
    path.write_text("content\n")
    return owned(path, mode, **owner)


@pytest.fixture
def open_dir(files: Path) -> Path:
    """A directory of another user's that anyone may search, as every one above it."""
    directory = files / "open"
    directory.mkdir()
    return owned(directory, 0o755)


def a_dir(parent: Path, mode: int, name: str) -> Path:
    (parent / name).mkdir()
    return owned(parent / name, mode)


@pytest.mark.parametrize(
    ("mode", "caller", "allowed"),
    [
        (0o600, ALICE, False),  # another user's private file
        (0o640, ALICE, False),  # group-readable, not Alice's group
        (0o640, ALICE_IN_GROUP, True),
        (0o604, ALICE, True),  # others may read
        (0o044, Caller(OTHER_USER, frozenset()), False),  # the owner's bits decide for the owner
        (0o404, Caller(1000, frozenset({OTHER_GROUP})), False),  # the group's bits for the group
        (0o000, ROOT, True),
    ],
)
def test_read_permission_is_decided_by_the_first_class_the_caller_is_in(
    open_dir: Path, mode: int, caller: Caller, allowed: bool
) -> None:
    path = a_file(open_dir, mode)

    assert permits(path.stat(), caller, os.R_OK) is allowed
    assert AccessCheck(caller).may_open(path) is allowed


def test_a_private_file_of_another_user_is_closed_to_others_open_to_its_owner(
    open_dir: Path,
) -> None:
    path = a_file(open_dir, 0o600)

    assert not AccessCheck(ALICE).may_open(path)
    assert AccessCheck(Caller(OTHER_USER, frozenset({OTHER_GROUP}))).may_open(path)


def test_a_readable_file_in_a_private_directory_of_another_user_is_closed(
    open_dir: Path,
) -> None:
    path = a_file(a_dir(open_dir, 0o700, "private"), 0o644)

    assert not AccessCheck(ALICE).may_open(path)
    assert AccessCheck(Caller(OTHER_USER, frozenset())).may_open(path)
    assert AccessCheck(ROOT).may_open(path)


def test_searching_a_directory_needs_x_not_r(open_dir: Path) -> None:
    drop = a_dir(open_dir, 0o711, "drop")
    listing = a_dir(open_dir, 0o744, "listing")

    assert AccessCheck(ALICE).may_open(a_file(drop, 0o644))
    assert not AccessCheck(ALICE).may_open(a_file(listing, 0o644))


def test_every_directory_above_counts_not_only_the_parent(open_dir: Path) -> None:
    deep = a_dir(a_dir(open_dir, 0o700, "closed"), 0o777, "deep")

    assert not AccessCheck(ALICE).may_open(a_file(deep, 0o644))


def test_a_chmod_counts_at_the_next_check(open_dir: Path) -> None:
    path = a_file(open_dir, 0o644)
    assert AccessCheck(ALICE).may_open(path)

    path.chmod(0o600)

    assert not AccessCheck(ALICE).may_open(path)


def test_a_symbolic_link_is_checked_where_it_leads(open_dir: Path) -> None:
    target = a_file(a_dir(open_dir, 0o700, "closed"), 0o644)
    link = open_dir / "link.txt"
    link.symlink_to(target)

    assert not AccessCheck(ALICE).may_open(link)


def test_what_is_not_a_readable_regular_file_is_never_open(open_dir: Path) -> None:
    check = AccessCheck(ROOT)

    assert not check.may_open(open_dir / "missing.txt")
    assert not check.may_open(open_dir)
    assert not check.may_open(Path("/dev/null"))
    assert not check.may_open(open_dir / "nul\0byte")


def test_a_directory_reached_through_a_link_is_checked_where_it_leads(open_dir: Path) -> None:
    target = a_dir(a_dir(open_dir, 0o700, "closed"), 0o755, "shared")
    readable = a_file(target, 0o644)
    (open_dir / "shortcut").symlink_to(target)

    assert not AccessCheck(ALICE).may_open(open_dir / "shortcut" / readable.name)
    assert AccessCheck(Caller(OTHER_USER, frozenset())).may_open(
        open_dir / "shortcut" / readable.name
    )


def test_a_loop_of_links_is_closed(open_dir: Path) -> None:
    (open_dir / "a").symlink_to(open_dir / "b")
    (open_dir / "b").symlink_to(open_dir / "a")

    assert not AccessCheck(ROOT).may_open(open_dir / "a" / "file.txt")
