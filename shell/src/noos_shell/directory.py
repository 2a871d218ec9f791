"""`cd`, the one command the shell runs itself: a child process cannot change
the directory of its parent, and every later command runs where cd went."""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def cd_target(command: str) -> str | None:
    """The argument of a plain `cd` command ('' for none), or None if `command` is no plain cd."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or words[0] != "cd" or len(words) > 2:
        return None
    return words[1] if len(words) == 2 else ""


def change_directory(cwd: Path, target: str, previous: Path) -> Path:
    """Where `cd target` in `cwd` goes ('-' is `previous`); OSError if that is no directory."""
    if target == "-":
        destination = previous
    else:
        destination = cwd / Path(os.path.expandvars(target or "~")).expanduser()
    resolved = destination.resolve()
    if not resolved.is_dir():
        raise NotADirectoryError(f"cd: {target}: no such directory")
    if not os.access(resolved, os.X_OK):
        raise PermissionError(f"cd: {target}: permission denied")
    return resolved
