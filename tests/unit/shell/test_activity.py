"""When a break is suggested: after a stretch of input without a 5-minute pause."""

from __future__ import annotations

from noos_shell.activity import ActivityTracker, break_after_s

MINUTE = 60.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def typing_every(
    tracker: ActivityTracker, clock: Clock, minutes: float, until: float
) -> list[float]:
    """Input every `minutes` for `until` minutes (the clock then stands a step past
    the last input); the minutes from the first input at which a break was due."""
    start = clock.now
    due = []
    while clock.now - start <= until * MINUTE:
        if tracker.record_input() is not None:
            due.append((clock.now - start) / MINUTE)
        clock.now += minutes * MINUTE
    return due


def test_a_break_is_due_after_the_stretch_and_again_after_as_long() -> None:
    clock = Clock()
    tracker = ActivityTracker(50 * MINUTE, clock)
    assert typing_every(tracker, clock, 1, 120) == [50, 100]


def test_the_stretch_is_reported_when_due() -> None:
    clock = Clock()
    tracker = ActivityTracker(50 * MINUTE, clock)
    # Input every 4 minutes never makes a pause: the stretch is 52 minutes long.
    for _ in range(13):
        assert tracker.record_input() is None
        clock.now += 4 * MINUTE
    assert tracker.record_input() == 52 * MINUTE


def test_a_pause_of_five_minutes_starts_a_new_stretch() -> None:
    clock = Clock()
    tracker = ActivityTracker(50 * MINUTE, clock)
    assert typing_every(tracker, clock, 1, 40) == []
    clock.now += 5 * MINUTE  # a break taken
    assert typing_every(tracker, clock, 1, 45) == []
    assert typing_every(tracker, clock, 1, 10) != []


def test_a_shorter_pause_does_not() -> None:
    clock = Clock()
    tracker = ActivityTracker(50 * MINUTE, clock)
    assert typing_every(tracker, clock, 1, 40) == []
    # The last input was a minute ago: 3.9 more make a pause of 4.9 minutes.
    clock.now += 3.9 * MINUTE
    assert len(typing_every(tracker, clock, 1, 10)) == 1


def test_the_stretch_comes_from_the_environment() -> None:
    assert break_after_s({}) == 50 * MINUTE
    assert break_after_s({"NOOS_SHELL_BREAK_AFTER_MIN": "25"}) == 25 * MINUTE
    assert break_after_s({"NOOS_SHELL_BREAK_AFTER_MIN": "0.5"}) == 30.0
    assert break_after_s({"NOOS_SHELL_BREAK_AFTER_MIN": "soon"}) == 50 * MINUTE
    assert break_after_s({"NOOS_SHELL_BREAK_AFTER_MIN": "0"}) is None
