"""What of the session goes to memory, and how much it matters."""

from __future__ import annotations

import pytest

from noos_shell.journal import (
    COMMAND_KEY,
    FAILED_KEY,
    FAILURE_IMPORTANCE,
    SOLUTION_IMPORTANCE,
    SUCCESS_IMPORTANCE,
    Journal,
    is_kept_out,
)
from noos_shell.pty_runner import CommandResult
from noos_shell.redaction import redact_secrets


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


# Shaped like secrets, none real.
# Each command, and the secret in it; shaped like secrets, none real.
SECRET_COMMANDS = {
    "github": (
        "git clone https://ghp_R4nd0mL00k1ngT0k3nV4lu3xyzABCD12345@github.com/a/b",
        "ghp_R4nd0mL00k1ngT0k3nV4lu3xyzABCD12345",
    ),
    "github fine-grained": (
        "echo github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "11ABCDEFG0123456789",
    ),
    "slack": (
        "curl -d token=xoxp-2231234567-9876543210-AbCdEfGhIjKl slack.com/api",
        "2231234567-9876543210",
    ),
    "aws": ("aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    "openai": ("llm keys set openai sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2", "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"),
    "bearer": (
        "curl -H 'Authorization: Bearer abc.def-ghi_jkl' https://api.example.com",
        "abc.def-ghi_jkl",
    ),
    "basic": (
        'curl -H "Authorization: Basic dXNlcjpodW50ZXIy" https://api.example.com',
        "dXNlcjpodW50ZXIy",
    ),
    "password=": ("psql 'host=db password=hunter2 user=me'", "hunter2"),
    "--password value": ("mysqladmin --password hunter2 status", "hunter2"),
    "--password=value": ("docker login --password=hunter2 registry", "hunter2"),
    "-pvalue": ("mysql -uroot -phunter2 mydb", "hunter2"),
    "url": ("git remote add origin https://alice:hunter2@git.example.com/repo.git", "hunter2"),
    "export": ("export OPENWEATHER_API_KEY=hunter2abc", "hunter2abc"),
    "env": ("DB_PASSWORD='hunter2 with spaces' ./migrate", "hunter2"),
    "pem": (
        "echo '-----BEGIN RSA PRIVATE KEY-----\nMIIEhunter2\n-----END RSA PRIVATE KEY-----'",
        "MIIEhunter2",
    ),
    "random": (
        "curl -d key=x https://x?sig=Zq3F9kLm2Np8Rt5Vx7Yb1Cd4Gh6Jw0Qe",
        "Zq3F9kLm2Np8Rt5Vx7Yb1Cd4Gh6Jw0Qe",
    ),
}
PLAIN_COMMANDS = (
    "mkdir -p build/out",
    "docker run -p8080:80 nginx",
    "find . -name '*.py' -print",
    "ssh -p 2222 alice@example.com",
    "git checkout 3f786850e387550fdab836ed7e6dc881de23001b",
    "ls -la ~/projects/MyLongProjectName_2024_Final-Backup",
    "git commit -m 'check the password field is required'",
    "grep -r token src/",
)


@pytest.mark.parametrize(
    ("command", "secret"), SECRET_COMMANDS.values(), ids=SECRET_COMMANDS.keys()
)
def test_a_secret_in_a_command_is_redacted_before_memory(command: str, secret: str) -> None:
    (note,) = Journal().command_notes(result(command, 0), "/home/me/secrets")
    assert secret not in note.text and "[REDACTED]" in note.text, note.text
    assert note.metadata[COMMAND_KEY] in note.text  # Ctrl+R gets the same redacted line
    assert "/home/me/secrets: it worked" in note.text  # the shell's words stay


@pytest.mark.parametrize("command", PLAIN_COMMANDS)
def test_a_command_without_a_secret_is_kept_whole(command: str) -> None:
    assert redact_secrets(command) == command


def test_a_private_key_s_end_in_a_failure_s_last_lines_is_redacted() -> None:
    body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    output = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n{body}\n{body}\n"
    output += "-----END OPENSSH PRIVATE KEY-----\n"
    (note,) = Journal().command_notes(result("cat key; false", 1, output), "/tmp")
    assert body not in note.text and "PRIVATE KEY" not in note.text, note.text


def test_a_solution_s_failed_command_is_redacted_too() -> None:
    journal = Journal()
    journal.command_notes(result("mysql -uroot -phunter2 db", 1, "ERROR 1045"), "/tmp")
    notes = journal.command_notes(result("mysql -uroot -phunter3 db", 0), "/tmp")
    assert all("hunter" not in note.text for note in notes)
    assert notes[-1].metadata[FAILED_KEY] == "mysql -uroot -p[REDACTED] db"


def test_a_question_and_its_answer_are_redacted() -> None:
    note = Journal.question_note("is AKIAIOSFODNN7EXAMPLE valid?", "password=hunter2 works")
    assert "AKIAIOSFODNN7EXAMPLE" not in note.text and "hunter2" not in note.text


def test_a_line_that_starts_with_a_space_is_kept_out() -> None:
    assert is_kept_out(" export TOKEN=x") and not is_kept_out("export TOKEN=x")
