"""The wishes that file events leave, held until their files are quiet (a clock moved by hand)."""

from __future__ import annotations

from pathlib import Path

from noosd.index.live.pending import DEFAULT_CAPACITY, PendingChanges, Rename, Wish

A, B, C = Path("/home/u/a.txt"), Path("/home/u/b.txt"), Path("/home/u/c.txt")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pending_with(clock: Clock, capacity: int = DEFAULT_CAPACITY) -> PendingChanges:
    return PendingChanges(quiet_s=1.0, max_wait_s=5.0, capacity=capacity, clock=clock)


def test_a_path_is_due_once_its_events_pause() -> None:
    clock = Clock()
    pending = pending_with(clock)
    pending.add(A, Wish.INDEX)
    clock.now += 0.9
    pending.add(A, Wish.INDEX)
    due, wait = pending.take_due()
    assert not due and wait == 1.0
    clock.now += 1.0
    due, wait = pending.take_due()
    assert due.to_index == {None: [A]} and wait is None
    assert len(pending) == 0


def test_a_path_written_without_pause_is_due_after_the_longest_wait() -> None:
    clock = Clock()
    pending = pending_with(clock)
    for _ in range(50):
        pending.add(A, Wish.INDEX, "usb")
        clock.now += 0.1
    due, _ = pending.take_due()
    assert due.to_index == {"usb": [A]}


def test_the_latest_wish_wins_delete_then_recreate_is_an_index() -> None:
    clock = Clock()
    pending = pending_with(clock)
    pending.add(A, Wish.FORGET)
    pending.add(A, Wish.INDEX)
    pending.add(B, Wish.INDEX)
    pending.add(B, Wish.FORGET)
    clock.now += 2
    due, _ = pending.take_due()
    assert due.to_index == {None: [A]} and due.forgets == [B]


def test_a_rename_is_due_at_once_and_carries_the_wish_of_its_path() -> None:
    clock = Clock()
    pending = pending_with(clock)
    pending.add(A, Wish.INDEX)  # a temporary file just written...
    pending.add(B, Wish.FORGET)  # ...replacing one just deleted
    pending.rename(A, B)
    assert pending.wake.is_set()
    due, _ = pending.take_due()
    assert due.renames == [Rename(A, B)] and not due.forgets and not due.to_index
    clock.now += 2
    due, _ = pending.take_due()
    assert due.to_index == {None: [B]} and not due.forgets


def test_a_directory_rename_moves_the_wishes_below_it() -> None:
    clock = Clock()
    pending = pending_with(clock)
    pending.add(Path("/home/u/old/x.py"), Wish.INDEX)
    pending.rename(Path("/home/u/old"), Path("/home/u/new"))
    clock.now += 2
    due, _ = pending.take_due()
    assert due.to_index == {None: [Path("/home/u/new/x.py")]}


def test_past_its_capacity_it_refuses_to_index_but_always_forgets() -> None:
    clock = Clock()
    pending = pending_with(clock, capacity=2)
    assert pending.add(A, Wish.INDEX) and pending.add(B, Wish.INDEX)
    assert not pending.add(C, Wish.INDEX)
    assert pending.add(A, Wish.INDEX)  # a path already pending is no new one
    assert pending.add(C, Wish.FORGET)
    assert len(pending) == 3


def test_dropping_a_directory_drops_the_wishes_below_it() -> None:
    clock = Clock()
    pending = pending_with(clock)
    pending.add(Path("/home/u/d/x"), Wish.INDEX)
    pending.add(A, Wish.INDEX)
    pending.drop_under(Path("/home/u/d"))
    clock.now += 2
    due, _ = pending.take_due()
    assert due.to_index == {None: [A]}


def test_changes_put_back_come_again_behind_no_newer_wish() -> None:
    clock = Clock()
    pending = pending_with(clock)
    pending.rename(A, B)
    pending.add(C, Wish.INDEX, "usb")
    pending.add(A, Wish.FORGET)
    clock.now += 2
    due, _ = pending.take_due()
    # The index's disk was full: nothing applied. Meanwhile C was deleted.
    pending.add(C, Wish.FORGET)
    pending.rename(B, A)
    pending.put_back(due)
    clock.now += 2
    again, _ = pending.take_due()
    assert again.renames == [Rename(A, B), Rename(B, A)]
    # C's newer wish (forget) stands; A's forget comes again.
    assert sorted(again.forgets) == [A, C]
    assert again.to_index == {}
