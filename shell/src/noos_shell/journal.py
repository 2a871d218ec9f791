"""What of the session goes to memory, and how much it matters.

A command that worked is a small thing; one that failed matters more; one
that worked right after a failed attempt at the same program is a solution
worth keeping: the failure and its fix are remembered together.

What is typed may hold secrets. As in bash with HISTCONTROL=ignorespace, a
line that starts with a space is kept out of memory (`is_kept_out`); in every
other note, what looks like a secret is redacted (see `redaction`) before it
leaves the shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from noos_shell.pty_runner import CommandResult
from noos_shell.redaction import redact_secrets

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


def is_kept_out(line: str) -> bool:
    """Whether an entered line stays out of memory and history: it starts
    with a space, as bash's HISTCONTROL=ignorespace has it."""
    return line.startswith(" ")


def program_of(command: str) -> str:
    words = command.split()
    return words[0] if words else ""


def last_lines(output: str, count: int = ERROR_LINES) -> str:
    """The output's last lines, after redaction: a secret (a private key's
    body) may span more lines than those kept, its start not among them."""
    lines = redact_secrets(output).strip().splitlines()[-count:]
    return " | ".join(line for line in lines if line.strip())


class Journal:
    """The session's commands and questions, turned into notes for memory."""

    def __init__(self) -> None:
        self._last_failure: CommandResult | None = None

    def command_notes(self, result: CommandResult, cwd: str) -> list[Note]:
        # The command and its output are redacted, each on its own: the note
        # around them (a directory named "secrets:") is the shell's words.
        command = redact_secrets(result.command)
        if not result.succeeded:
            self._last_failure = result
            error = last_lines(result.output)
            text = f"command `{command}` in {cwd} failed with exit {result.exit_status}"
            return [
                Note(
                    f"{text}: {error}" if error else text,
                    "command",
                    FAILURE_IMPORTANCE,
                    {COMMAND_KEY: command},
                )
            ]
        notes = [
            Note(
                f"ran `{command}` in {cwd}: it worked",
                "command",
                SUCCESS_IMPORTANCE,
                {COMMAND_KEY: command},
            )
        ]
        failure = self._last_failure
        if failure is not None and program_of(failure.command) == program_of(result.command):
            self._last_failure = None
            error = last_lines(failure.output)
            failed = redact_secrets(failure.command)
            notes.append(
                Note(
                    f"solution: `{failed}` failed (exit {failure.exit_status}"
                    f"{': ' + error if error else ''}); `{command}` worked instead",
                    "command",
                    SOLUTION_IMPORTANCE,
                    {COMMAND_KEY: command, FAILED_KEY: failed},
                )
            )
        return notes

    @staticmethod
    def question_note(question: str, answer: str) -> Note:
        return Note(
            f"asked: {redact_secrets(question)}\nanswer: {redact_secrets(answer[:ANSWER_CHARS])}",
            "conversation",
            QUESTION_IMPORTANCE,
        )
