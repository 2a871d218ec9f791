"""Which remembered solution a failure brings up, if any."""

from __future__ import annotations

from noos import MemoryRecord, RecallHit
from noos_shell.pty_runner import CommandResult
from noos_shell.solutions import SOLUTION_SIMILARITY, failure_query, solution_hint


def hit(text: str, kind: str, similarity: float, **metadata: str) -> RecallHit:
    # Neither the blended score nor the relevance (cosine plus the words) is
    # what decides: make both mislead.
    details = {"similarity": similarity, "relevance": 2.0 - similarity}
    record = MemoryRecord("id", text, kind, 0.0, 0.0, dict(metadata), details)
    return RecallHit(score=1.0 - similarity, memory=record)


# The failure the hints are for.
FAILED = "ls /another-missing-dir"
SOLUTION = hit(
    "solution: `ls /nonexistent-dir` failed (...); `ls /tmp` worked instead",
    "command",
    0.71,
    command="ls /tmp",
    failed="ls /nonexistent-dir",
)


def test_the_query_is_the_command_and_its_last_lines() -> None:
    result = CommandResult("ls /x", 2, "a\nb\nc\nls: cannot access '/x'\n", 0.1)
    assert failure_query(result) == "ls /x\nb | c | ls: cannot access '/x'"
    assert failure_query(CommandResult("false", 1, "", 0.1)) == "false"


def test_a_close_solution_says_what_worked() -> None:
    assert solution_hint([SOLUTION], FAILED) == (
        "you solved something like this before: `ls /tmp` (after `ls /nonexistent-dir` failed)"
    )


def test_a_distant_solution_is_not_shown() -> None:
    distant = hit("solution: ...", "command", SOLUTION_SIMILARITY - 0.01, command="a", failed="b")
    assert solution_hint([distant], FAILED) is None


def test_a_failure_or_a_success_is_no_solution() -> None:
    failure = hit("command `ls /nonexistent-dir` failed", "command", 0.9, command="ls /x")
    assert solution_hint([failure], FAILED) is None
    assert solution_hint([failure, SOLUTION], FAILED) == solution_hint([SOLUTION], FAILED)


def test_a_close_note_is_shown_as_written() -> None:
    note = hit("pip refuses system installs here: use pipx", "note", 0.75)
    assert solution_hint([SOLUTION, note], FAILED) == (
        "you solved something like this before: pip refuses system installs here: use pipx"
    )


def test_a_fix_that_just_failed_is_no_solution() -> None:
    assert solution_hint([SOLUTION], "ls /tmp") is None
