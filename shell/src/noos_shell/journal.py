"""What of the session goes to memory, and how much it matters.

A command that worked is a small thing; one that failed matters more; one
that worked right after a failed attempt at the same program is a solution
worth keeping: the failure and its fix are remembered together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from noos_shell.pty_runner import CommandResult

SUCCESS_IMPORTANCE = 0.1
FAILURE_IMPORTANCE = 0.3
SOLUTION_IMPORTANCE = 0.9
QUESTION_IMPORTANCE = 0.4
# How much of a failure's output a memory keeps: its last lines say why.
ERROR_LINES = 3
ANSWER_CHARS = 600
# The metadata of command memories: the command run (for a solution: the one
# that worked), and for a solution the command that had failed.
COMMAND_KEY = "command"
FAILED_KEY = "failed"


@dataclass(frozen=True)
class Note:
    """A memory to make: its text, kind and importance, and metadata that
    says which command it is about (what Ctrl+R and the solution hints read)."""

    text: str
    kind: str
    importance: float
    metadata: Mapping[str, str] = field(default_factory=dict)


def program_of(command: str) -> str:
    words = command.split()
    return words[0] if words else ""


def last_lines(output: str, count: int = ERROR_LINES) -> str:
    return " | ".join(line for line in output.strip().splitlines()[-count:] if line.strip())


class Journal:
    """The session's commands and questions, turned into notes for memory."""

    def __init__(self) -> None:
        self._last_failure: CommandResult | None = None

    def command_notes(self, result: CommandResult, cwd: str) -> list[Note]:
        if not result.succeeded:
            self._last_failure = result
            error = last_lines(result.output)
            text = f"command `{result.command}` in {cwd} failed with exit {result.exit_status}"
            return [
                Note(
                    f"{text}: {error}" if error else text,
                    "command",
                    FAILURE_IMPORTANCE,
                    {COMMAND_KEY: result.command},
                )
            ]
        notes = [
            Note(
                f"ran `{result.command}` in {cwd}: it worked",
                "command",
                SUCCESS_IMPORTANCE,
                {COMMAND_KEY: result.command},
            )
        ]
        failure = self._last_failure
        if failure is not None and program_of(failure.command) == program_of(result.command):
            self._last_failure = None
            error = last_lines(failure.output)
            notes.append(
                Note(
                    f"solution: `{failure.command}` failed (exit {failure.exit_status}"
                    f"{': ' + error if error else ''}); `{result.command}` worked instead",
                    "command",
                    SOLUTION_IMPORTANCE,
                    {COMMAND_KEY: result.command, FAILED_KEY: failure.command},
                )
            )
        return notes

    @staticmethod
    def question_note(question: str, answer: str) -> Note:
        return Note(
            f"asked: {question}\nanswer: {answer[:ANSWER_CHARS]}",
            "conversation",
            QUESTION_IMPORTANCE,
        )
