"""The terminal noos-shell runs on, and the plain shell one key away.

A serial console knows no size of its own: it reports 0x0 until someone says
otherwise, and full-screen programs (Textual, the pager, the plain shell's
editors) then draw into nothing. Such a terminal is given 80x24, as
`stty rows 24 cols 80` would, before anything is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from noos_shell.pty_runner import set_window_size

FALLBACK_COLUMNS = 80
FALLBACK_ROWS = 24
DEFAULT_LOGIN_SHELL = "/bin/bash"


def ensure_terminal_size(fd: int) -> tuple[int, int] | None:
    """Give the terminal on `fd` 80 columns and 24 rows where it says 0; the size
    set, or None if it had one (or `fd` is no terminal)."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    if size.columns > 0 and size.lines > 0:
        return None
    columns, rows = size.columns or FALLBACK_COLUMNS, size.lines or FALLBACK_ROWS
    set_window_size(fd, columns, rows)
    return columns, rows


def plain_shell_argv(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The login shell F12 runs: $SHELL, unless that is noos-shell itself, else bash."""
    shell = environ.get("SHELL", "")
    if not shell or Path(shell).name == "noos-shell":
        shell = DEFAULT_LOGIN_SHELL
    return [shell, "-l"]
