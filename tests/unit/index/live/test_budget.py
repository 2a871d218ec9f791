"""The inotify watch budget: charged to each directory's owner, below the kernel's limit."""

from __future__ import annotations

import os
from pathlib import Path

from noosd.index.live.budget import KERNEL_SHARE, WatchBudget, kernel_watch_limit, total_budget


def test_the_total_stays_below_the_kernels_limit() -> None:
    assert total_budget(0, 1000) == int(1000 * KERNEL_SHARE)
    assert total_budget(500, 1000) == 500
    assert total_budget(5000, 1000) == int(1000 * KERNEL_SHARE)
    assert total_budget(500, None) == 500


def test_the_kernels_limit_is_read_from_proc(tmp_path: Path) -> None:
    limit = tmp_path / "max_user_watches"
    limit.write_text("524288\n")
    assert kernel_watch_limit(limit) == 524288
    assert kernel_watch_limit(tmp_path / "missing") is None


def test_a_user_past_their_budget_gets_no_watch_and_another_still_does(tmp_path: Path) -> None:
    budget = WatchBudget(per_user=2, total=10)
    mine = [tmp_path / f"d{number}" for number in range(3)]
    for directory in mine:
        directory.mkdir()
    me = os.getuid()
    for descriptor, directory in enumerate(mine[:2]):
        assert budget.owner_if_admitted(os.fsencode(directory)) == me
        budget.charge(descriptor, me)
    budget.charge(1, me)  # the same watch again (a directory seen twice): charged once
    assert budget.held(me) == 2
    assert budget.owner_if_admitted(os.fsencode(mine[2])) is None
    assert budget.unwatched() == [mine[2]]
    # Released when its directory goes: the next one fits again.
    budget.release(0)
    assert budget.owner_if_admitted(os.fsencode(mine[2])) == me


def test_the_total_bounds_all_users_together(tmp_path: Path) -> None:
    budget = WatchBudget(per_user=10, total=2)
    budget.charge(1, 1000)
    budget.charge(2, 1001)
    assert budget.owner_if_admitted(os.fsencode(tmp_path)) is None


def test_only_the_outermost_unwatched_directories_that_are_left_are_rescanned(
    tmp_path: Path,
) -> None:
    budget = WatchBudget(per_user=0, total=10)
    for relative in ("a", "a/b", "c"):
        (tmp_path / relative).mkdir()
        assert budget.owner_if_admitted(os.fsencode(tmp_path / relative)) is None
    assert budget.unwatched() == [tmp_path / "a", tmp_path / "c"]
    (tmp_path / "c").rmdir()
    assert budget.unwatched() == [tmp_path / "a"]
