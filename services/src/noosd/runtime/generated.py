"""The command line of a generated file (docs/dbus.md, the polkit policy):
`python -m <generator> [PATH]` writes it to PATH, or prints it. A unit test
compares each shipped file with its generator's text."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_print(text: str, argv: list[str]) -> int:
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0
