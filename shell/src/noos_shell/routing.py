"""Where a line of input goes: a command, the index, memory, or the scheduler.

`route` is pure: whether a word names a command is asked of the `is_command`
it is given (by default: an executable on $PATH or a shell builtin), so the
same line always routes the same way in tests.
"""

from __future__ import annotations

import enum
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass


class IntentKind(enum.Enum):
    COMMAND = "command"
    FIND = "find"
    REMEMBER = "remember"
    RECALL = "recall"
    FORGET = "forget"
    PROPOSE = "propose"
    QUESTION = "question"


@dataclass(frozen=True)
class Intent:
    """What to do with a line: `payload` is the part that matters to `kind`
    (the command, the query, the text to remember); `why` says why, for people."""

    kind: IntentKind
    payload: str
    why: str


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The prefixes that override the routing, and what they force.
OVERRIDE_PREFIXES = {"!": IntentKind.COMMAND, "?": IntentKind.QUESTION}

# The builtins of bash: not on $PATH, but commands all the same.
SHELL_BUILTINS = words(
    "alias bg bind break builtin cd command compgen complete continue declare dirs disown "
    "echo enable eval exec exit export false fc fg getopts hash help history jobs kill let "
    "local logout popd printf pushd pwd read readonly return set shift shopt source suspend "
    "test times trap true type typeset ulimit umask unalias unset wait"
)

# Commands that take free text as arguments: English after them is still their input.
TEXT_TAKING_COMMANDS = frozenset({"echo", "printf", "sudo", "cd", "export", "exec", "env"})

# Words that begin a search of the index, even when an executable has the same
# name: `find . -name x` has shell syntax in it, "find my notes on kafka" has not.
FIND_VERBS = ("find", "open", "search for", "search", "locate", "look for", "show me")
PROPOSE_STARTS = re.compile(
    r"^(how (do|can|could|would|should) (i|we|you)|how to|run|show me how to)\b", re.IGNORECASE
)
RECALL_STARTS = re.compile(
    r"^(what|when|where|which|how|why) (did|have|was|were) (i|we)\b"
    r"|^(do you|did i) remember\b|^recall\b|^what do you (know|remember) about\b",
    re.IGNORECASE,
)
REMEMBER_START = re.compile(r"^remember(?: that)?\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)
FORGET_START = re.compile(r"^forget(?: about| that)?\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)
QUESTION_WORDS = words(
    "what why who whom whose when where which how is are am was were can could would should "
    "will does do did explain tell describe summarise summarize define compare"
)
# Small words of English that shell arguments rarely are.
ENGLISH_WORDS = words(
    "a an the my me our your i we you it its this that these those of to in on for with "
    "about from into all any some is are was were be and or not how what why which"
)
# Pipes, redirections, sequencing, substitutions, variables, globs, escapes, a
# quoted word (an apostrophe inside a word is English), assignments.
SHELL_SYNTAX = re.compile(r"[|&;<>`$*\\]|(^|\s)[\"'][^\"']*[\"']|(^|\s)\w+=\S")
SHELL_ARGUMENT = re.compile(r"^(-|\.{1,2}(/|$)|/|~)")


def is_command_on_path(word: str) -> bool:
    """Whether `word` is a shell builtin or an executable on $PATH."""
    return word in SHELL_BUILTINS or shutil.which(word) is not None


def route(line: str, is_command: Callable[[str], bool] = is_command_on_path) -> Intent | None:
    """Where `line` goes; None for a blank line."""
    text = line.strip()
    if not text:
        return None
    forced = OVERRIDE_PREFIXES.get(text[0])
    if forced is not None:
        payload = text[1:].strip()
        return Intent(forced, payload, f"forced by '{text[0]}'") if payload else None
    first_word = text.split()[0]
    if is_command(first_word) and reads_as_command(text, first_word):
        return Intent(IntentKind.COMMAND, text, f"'{first_word}' is a command")
    return route_language(text) or route_syntax(text, first_word)


def reads_as_command(text: str, first_word: str) -> bool:
    """Whether a line that starts with a command's name is that command, not English."""
    arguments = text.split()[1:]
    if not arguments or has_shell_syntax(text) or first_word in TEXT_TAKING_COMMANDS:
        return True
    if starts_with_phrase(text, FIND_VERBS):
        return False
    english = sum(word.lower().strip("?,.") in ENGLISH_WORDS for word in arguments)
    return english < 2 and not text.endswith("?")


def has_shell_syntax(text: str) -> bool:
    return bool(SHELL_SYNTAX.search(text)) or any(
        SHELL_ARGUMENT.match(word) for word in text.split()[1:]
    )


def route_language(text: str) -> Intent | None:
    """The intent of a line of English, if it asks for something in particular."""
    if match := REMEMBER_START.match(text):
        return Intent(IntentKind.REMEMBER, match["rest"].strip(), "starts with 'remember'")
    if match := FORGET_START.match(text):
        return Intent(IntentKind.FORGET, match["rest"].strip(), "starts with 'forget'")
    if RECALL_STARTS.match(text):
        return Intent(IntentKind.RECALL, text, "asks about what you did")
    if PROPOSE_STARTS.match(text):
        return Intent(IntentKind.PROPOSE, text, "asks for a command")
    verb = starts_with_phrase(text, FIND_VERBS)
    if verb:
        query = text[len(verb) :].strip()
        if query:
            return Intent(IntentKind.FIND, query, f"starts with '{verb}'")
    first = text.split()[0].lower().strip(",")
    if text.endswith("?") or first in QUESTION_WORDS:
        return Intent(IntentKind.QUESTION, text, "reads as a question")
    return None


def route_syntax(text: str, first_word: str) -> Intent:
    """A line that is no English request: shell syntax makes it a command, else a question."""
    if has_shell_syntax(text):
        return Intent(IntentKind.COMMAND, text, "has shell syntax")
    return Intent(IntentKind.QUESTION, text, f"no command named '{first_word}'")


def starts_with_phrase(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first of `phrases` that `text` starts with as whole words."""
    lowered = text.lower()
    for phrase in phrases:
        if lowered == phrase or lowered.startswith(phrase + " "):
            return phrase
    return None
