"""What Ctrl+R lists: commands from memory, lines of the session."""

from __future__ import annotations

from noos import MemoryRecord, RecallHit
from noos_shell.history import line_for_command, matching_lines, remembered_commands


def command_hit(text: str, **metadata: str) -> RecallHit:
    return RecallHit(0.5, MemoryRecord("id", text, "command", 0.0, 0.0, dict(metadata), {}))


def test_remembered_commands_come_from_the_metadata_each_once() -> None:
    hits = [
        command_hit("ran `ls -la` in /tmp: it worked", command="ls -la"),
        command_hit("an old memory, without metadata"),
        command_hit("solution: ...; `git pull` worked", command="git pull", failed="git push"),
        command_hit("ran `ls -la` in /srv: it worked", command="ls -la"),
    ]
    assert remembered_commands(hits) == ["ls -la", "git pull"]


def test_lines_match_every_word_newest_first() -> None:
    history = ["ls -la", "git push", "git pull --rebase", "ls -la", "echo hi"]
    assert matching_lines(history, "") == ["echo hi", "ls -la", "git pull --rebase", "git push"]
    assert matching_lines(history, "GIT pu") == ["git pull --rebase", "git push"]
    assert matching_lines(history, "git rebase") == ["git pull --rebase"]
    assert matching_lines(history, "make") == []


def test_a_command_that_would_route_elsewhere_gets_its_bang() -> None:
    def is_command(word: str) -> bool:
        return word in {"ls", "find"}

    assert line_for_command("ls -la", is_command) == "ls -la"
    assert line_for_command("find my notes on kafka", is_command) == "!find my notes on kafka"
