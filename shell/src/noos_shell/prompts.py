"""What the shell asks the scheduler, and how it reads the answers. Pure text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from noos import FileHit, RecallHit

QUESTION_SYSTEM = (
    "You are the assistant of noos-shell, a terminal on a Debian system. Answer briefly "
    "and plainly. Use the context below when it helps; say so when you do not know."
)
PROPOSAL_SYSTEM = (
    "You turn a request into ONE bash command for a Debian system. Reply with only the "
    "command on one line: no explanation, no markdown, no prompt sign."
)
DESCRIBE_SYSTEM = "Explain in two short sentences what this bash command does and its risks."
# Context is cut to what a small model's window holds.
SNIPPET_CHARS = 400
FENCED_BLOCK = re.compile(r"```[\w+-]*\n(?P<body>.*?)(```|$)", re.DOTALL)
PROMPT_SIGN = re.compile(r"^(\$|#|>)\s+")

Conversation = list[tuple[str, str]]


def question_conversation(
    question: str, memories: Sequence[RecallHit], files: Sequence[FileHit]
) -> Conversation:
    """The conversation that asks `question`, with the memories and files found for it."""
    context = [f"- memory: {hit.memory.text}" for hit in memories]
    context += [
        f"- file {hit.path} (lines {hit.start_line}-{hit.end_line}):\n{hit.snippet[:SNIPPET_CHARS]}"
        for hit in files
    ]
    system = QUESTION_SYSTEM
    if context:
        system += "\n\nContext:\n" + "\n".join(context)
    return [("system", system), ("user", question)]


# Examples of the answer wanted: small models follow examples better than rules.
PROPOSAL_EXAMPLES: Conversation = [
    ("user", "how do I see the hidden files here"),
    ("assistant", "ls -la"),
    ("user", "how much space is left on my disks"),
    ("assistant", "df -h"),
]


def proposal_conversation(request: str) -> Conversation:
    return [("system", PROPOSAL_SYSTEM), *PROPOSAL_EXAMPLES, ("user", request)]


def describe_conversation(command: str) -> Conversation:
    return [("system", DESCRIBE_SYSTEM), ("user", command)]


def extract_command(answer: str) -> str | None:
    """The command in a model's answer: the first line of its first fenced block,
    else its first non-blank line, without backticks or a prompt sign."""
    block = FENCED_BLOCK.search(answer)
    text = block["body"] if block else answer
    for line in text.splitlines():
        command = PROMPT_SIGN.sub("", line.strip().strip("`").strip())
        if command:
            return command
    return None
