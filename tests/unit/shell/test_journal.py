"""What of the session goes to memory, and how much it matters."""

from __future__ import annotations

from noos_shell.journal import (
    FAILURE_IMPORTANCE,
    SOLUTION_IMPORTANCE,
    SUCCESS_IMPORTANCE,
    Journal,
)
from noos_shell.pty_runner import CommandResult


def result(command: str, status: int, output: str = "") -> CommandResult:
    return CommandResult(command, status, output, 0.1)


def test_a_command_that_worked_matters_little() -> None:
    (note,) = Journal().command_notes(result("ls", 0), "/tmp")
    assert note.kind == "command"
    assert note.importance == SUCCESS_IMPORTANCE
    assert "`ls`" in note.text


def test_a_failure_keeps_its_last_lines() -> None:
    (note,) = Journal().command_notes(result("make", 2, "a\nb\nc\nerror: no rule\n"), "/src")
    assert note.importance == FAILURE_IMPORTANCE
    assert "exit 2" in note.text
    assert "error: no rule" in note.text


def test_failed_then_fixed_is_a_remembered_solution() -> None:
    journal = Journal()
    journal.command_notes(result("git push", 1, "rejected: fetch first"), "/src")
    worked, solution = journal.command_notes(result("git pull --rebase", 0), "/src")
    assert worked.importance == SUCCESS_IMPORTANCE
    assert solution.importance == SOLUTION_IMPORTANCE
    assert "`git push` failed" in solution.text
    assert "rejected: fetch first" in solution.text
    assert "`git pull --rebase` worked" in solution.text
    # The failure is solved once: the next success is plain again.
    assert len(journal.command_notes(result("git status", 0), "/src")) == 1


def test_a_success_of_another_program_is_no_solution() -> None:
    journal = Journal()
    journal.command_notes(result("make", 2), "/src")
    assert len(journal.command_notes(result("ls", 0), "/src")) == 1


def test_notes_name_their_command_for_ctrl_r_and_the_hints() -> None:
    journal = Journal()
    (failed,) = journal.command_notes(result("ls /x", 2, "no such file"), "/src")
    worked, solution = journal.command_notes(result("ls /", 0), "/src")
    assert failed.metadata == {"command": "ls /x"}
    assert worked.metadata == {"command": "ls /"}
    assert solution.metadata == {"command": "ls /", "failed": "ls /x"}
