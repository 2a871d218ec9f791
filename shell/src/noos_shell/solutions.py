""" "You solved something like this before": a failed command, matched against
the solutions and notes in memory.

The journal remembers a failure followed by a working command of the same
program as a solution (metadata: the command that failed, the one that
worked). When a command fails, its command line and last lines of output ask
memory for such solutions, and for the user's notes; a match shows under the
failure only if it is close enough.

The bar is on the memory's similarity (the cosine of MiniLM embeddings), not
its relevance, which adds up to 1 for shared words, scaled by the recall's
best lexical match (so any failure's best word match would get it all), nor
its blended score, which importance and recency lift by up to 0.21. Measured
against solutions for `ls`, `git push`, `pip install` and a Python import:
failures like them scored 0.62-0.91 (`ls /srv/data` against `ls
/nonexistent-dir` 0.62, another missing directory 0.71); unrelated ones
0.16-0.52 (`git status` outside a repository against `git push` rejected
0.52, `cat` of a missing file 0.52, `make`, `rm`, `curl`, command not found
0.26-0.34). 0.6 keeps the first and drops the second: a wrong hint costs more
than a missed one.
"""

from __future__ import annotations

from collections.abc import Sequence

from noos import RecallHit
from noos_shell.journal import COMMAND_KEY, FAILED_KEY, last_lines
from noos_shell.pty_runner import CommandResult

SOLUTION_SIMILARITY = 0.6
SOLUTION_KINDS = ("command", "note")
SOLUTION_CANDIDATES = 5


def failure_query(result: CommandResult) -> str:
    """What memory is asked about a failure: the command line and its last lines."""
    error = last_lines(result.output)
    return f"{result.command}\n{error}" if error else result.command


def similarity(hit: RecallHit) -> float:
    value = hit.memory.details.get("similarity", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def solution_hint(hits: Sequence[RecallHit], failed_command: str) -> str | None:
    """What to tell of the best remembered solution among `hits` for `failed_command`,
    if one is close enough.

    A command memory is a solution only if it says what worked, and that is
    not the command that just failed; a note is the user's own words, shown
    as they are.
    """
    for hit in sorted(hits, key=similarity, reverse=True):
        if similarity(hit) < SOLUTION_SIMILARITY:
            return None
        memory = hit.memory
        fix = memory.metadata.get(COMMAND_KEY)
        failed = memory.metadata.get(FAILED_KEY)
        if memory.kind == "command" and fix and failed and fix != failed_command:
            return f"you solved something like this before: `{fix}` (after `{failed}` failed)"
        if memory.kind == "note":
            return f"you solved something like this before: {memory.text}"
    return None
