"""Where lines go: commands, the index, memory, proposals, questions."""

from __future__ import annotations

import pytest

from noos_shell.routing import IntentKind, is_command_on_path, route

# The executables of the table, whatever this machine has on $PATH.
EXECUTABLES = {"ls", "git", "grep", "cat", "find", "make", "which", "who", "open", "sort", "touch"}


def is_command(word: str) -> bool:
    return word in EXECUTABLES or word in {"echo", "cd", "export", "true", "false"}


COMMAND = IntentKind.COMMAND
FIND = IntentKind.FIND
REMEMBER = IntentKind.REMEMBER
RECALL = IntentKind.RECALL
FORGET = IntentKind.FORGET
PROPOSE = IntentKind.PROPOSE
QUESTION = IntentKind.QUESTION

TABLE = [
    # Commands: an executable or a builtin first.
    ("ls", COMMAND, "ls"),
    ("ls -la", COMMAND, "ls -la"),
    ("  git status  ", COMMAND, "git status"),
    ("git commit -m 'fix the bug in the parser'", COMMAND, None),
    ("cat notes.txt", COMMAND, None),
    ("touch made", COMMAND, None),
    ("cd", COMMAND, "cd"),
    ("cd ~/src", COMMAND, None),
    ("echo the quick brown fox jumps over the lazy dog", COMMAND, None),
    ("export PATH=$HOME/bin:$PATH", COMMAND, None),
    ("find . -name '*.py'", COMMAND, None),
    ("find /etc -newer /tmp/x", COMMAND, None),
    ("which python", COMMAND, None),
    ("make", COMMAND, None),
    ("sort -u words.txt", COMMAND, None),
    # Shell syntax makes a command of an unknown word too.
    ("frobnicate | grep x", COMMAND, None),
    ("mytool > out.txt", COMMAND, None),
    ("FOO=1 mytool", COMMAND, None),
    ("./configure --prefix=/usr", COMMAND, None),
    ("a && b", COMMAND, None),
    # Overrides.
    ("!what is this", COMMAND, "what is this"),
    ("! ls", COMMAND, "ls"),
    ("?ls", QUESTION, "ls"),
    ("? git status", QUESTION, "git status"),
    # The index.
    ("find my notes about kafka", FIND, "my notes about kafka"),
    ("find the python script with the bug", FIND, "the python script with the bug"),
    ("open the report from tuesday", FIND, "the report from tuesday"),
    ("search for invoices from 2023", FIND, "invoices from 2023"),
    ("locate John's thesis", FIND, "John's thesis"),
    ("show me the backup script", FIND, "the backup script"),
    # Memory.
    (
        "remember that the wifi password is on the fridge",
        REMEMBER,
        "the wifi password is on the fridge",
    ),
    ("Remember the build needs libfoo-dev", REMEMBER, "the build needs libfoo-dev"),
    ("forget the wifi password", FORGET, "the wifi password"),
    ("forget about kafka", FORGET, "kafka"),
    ("what did I do yesterday?", RECALL, "what did I do yesterday?"),
    ("when did I last run the backup", RECALL, None),
    ("do you remember my sister's birthday", RECALL, None),
    # Proposals.
    ("how do I list files bigger than 1 GB", PROPOSE, None),
    ("How can I see which process uses port 80?", PROPOSE, None),
    ("how to undo the last git commit", PROPOSE, None),
    ("run the tests in verbose mode", PROPOSE, None),
    ("show me how to extract a tar.xz", PROPOSE, None),
    # Questions: English that names no command, or asks.
    ("what is the capital of France?", QUESTION, None),
    ("why is the sky blue", QUESTION, None),
    ("explain the difference between TCP and UDP", QUESTION, None),
    ("which file holds the nginx config?", QUESTION, None),
    ("who is the author of this project?", QUESTION, None),
    ("make the tests pass for all of the modules", QUESTION, None),
    ("hello there", QUESTION, "hello there"),
    ("what's new in python 3.12?", QUESTION, None),
]


@pytest.mark.parametrize(("line", "kind", "payload"), TABLE)
def test_route(line: str, kind: IntentKind, payload: str | None) -> None:
    intent = route(line, is_command)
    assert intent is not None
    assert intent.kind is kind
    assert intent.payload == (line.strip() if payload is None else payload)
    assert intent.why


@pytest.mark.parametrize("line", ["", "   ", "!", "?  "])
def test_blank_lines_go_nowhere(line: str) -> None:
    assert route(line, is_command) is None


def test_unknown_word_says_why_it_is_a_question() -> None:
    intent = route("frobnicate the widgets", is_command)
    assert intent is not None
    assert intent.why == "no command named 'frobnicate'"


def test_override_says_so() -> None:
    intent = route("!what", is_command)
    assert intent is not None
    assert intent.why == "forced by '!'"


def test_path_and_builtins_are_commands() -> None:
    assert is_command_on_path("ls")
    assert is_command_on_path("cd")  # a builtin: on no $PATH
    assert not is_command_on_path("surely-no-such-command-here")


def test_default_routing_uses_the_path() -> None:
    intent = route("ls -la")
    assert intent is not None
    assert intent.kind is COMMAND
