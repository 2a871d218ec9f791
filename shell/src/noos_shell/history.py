"""What Ctrl+R finds: commands the user ran, from memory or the session's own lines. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from noos import RecallHit
from noos_shell.journal import COMMAND_KEY
from noos_shell.routing import IntentKind, is_command_on_path, route


def remembered_commands(hits: Sequence[RecallHit]) -> list[str]:
    """The commands that `hits` (command memories, best first) are about, each once."""
    commands: list[str] = []
    for hit in hits:
        command = hit.memory.metadata.get(COMMAND_KEY)
        if isinstance(command, str) and command and command not in commands:
            commands.append(command)
    return commands


def matching_lines(history: Sequence[str], query: str) -> list[str]:
    """The lines of `history` with every word of `query` in them, newest first, each once."""
    wanted = query.lower().split()
    lines: list[str] = []
    for line in reversed(history):
        if line not in lines and all(word in line.lower() for word in wanted):
            lines.append(line)
    return lines


def line_for_command(command: str, is_command: Callable[[str], bool] = is_command_on_path) -> str:
    """The input line that runs `command`: '!' in front if it would not route as one."""
    intent = route(command, is_command)
    return command if intent is not None and intent.kind is IntentKind.COMMAND else "!" + command
