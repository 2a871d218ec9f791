"""The line under the input: where the shell is, and where the line will go."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from noos.terminal_text import terminal_safe_line
from noos_shell.routing import Intent

# The most of the working directory the hint shows: the route must fit beside it in 80 columns.
PATH_CHARS = 24


def short_path(path: Path) -> str:
    """`path` with ~ for home, cut at the front to PATH_CHARS."""
    home = Path.home()
    text = "~" + str(path)[len(str(home)) :] if path.is_relative_to(home) else str(path)
    return text if len(text) <= PATH_CHARS else "…" + text[-(PATH_CHARS - 1) :]


class RouteHint(Static):
    """Shows the working directory and the routing of the line being typed."""

    def show(self, cwd: Path, intent: Intent | None, forced: bool) -> None:
        # A directory's name may be another user's (cd /tmp/…).
        text = Text(terminal_safe_line(short_path(cwd)), style="bold")
        if intent is not None:
            text.append("  → ")
            text.append(intent.kind.value, style="bold reverse" if forced else "bold")
            text.append(f"  ({intent.why})", style="dim")
        self.update(text)
