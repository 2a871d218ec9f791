"""Reading a command out of a model's answer, and what the model is asked."""

from __future__ import annotations

import pytest

from noos import FileHit
from noos_shell.prompts import extract_command, proposal_conversation, question_conversation
from noos_shell.widgets.results import age


@pytest.mark.parametrize(
    ("answer", "command"),
    [
        ("ls -la", "ls -la"),
        ("  du -sh *\n", "du -sh *"),
        ("`df -h`", "df -h"),
        ("$ git log --oneline", "git log --oneline"),
        ("Here you go:\n```bash\nfind . -size +1G\n```\nThis finds big files.", "find . -size +1G"),
        ("```\n\n$ ss -ltnp\n```", "ss -ltnp"),
        ("```sh\nuptime", "uptime"),
        ("", None),
        ("```\n```", None),
    ],
)
def test_extract_command(answer: str, command: str | None) -> None:
    assert extract_command(answer) == command


def test_proposal_asks_for_only_the_command() -> None:
    conversation = proposal_conversation("list big files")
    assert conversation[0][0] == "system"
    assert "only the command" in conversation[0][1]
    assert conversation[-1] == ("user", "list big files")


def test_question_carries_its_context() -> None:
    hit = FileHit("/home/u/notes.md", 0.9, "kafka runs on port 9092", 3, 4, 0.0, "markdown")
    conversation = question_conversation("which port?", [], [hit])
    assert "/home/u/notes.md" in conversation[0][1]
    assert "9092" in conversation[0][1]
    assert conversation[-1] == ("user", "which port?")


def test_age_in_the_largest_unit() -> None:
    now = 1_000_000.0
    assert age(now - 5, now) == "just now"
    assert age(now - 300, now) == "5 min ago"
    assert age(now - 7300, now) == "2 h ago"
    assert age(now - 3 * 86400, now) == "3 d ago"
