"""Helpers of the shell's pilot tests: the screen as plain text, and waiting for it."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

SNAPSHOTS = Path(__file__).with_name("snapshots")
# NOOS_UPDATE_SNAPSHOTS=1 writes the captures anew instead of comparing them.
UPDATE_SNAPSHOTS_ENV = "NOOS_UPDATE_SNAPSHOTS"
# How long a command took differs from run to run: the captures say N.NN s.
# How long the screen must stay the same to count as settled.
SETTLE_S = 0.1
DURATION = re.compile(r"\b\d+\.\d{2} s\b")


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as plain text: one line per row, without styles.

    Textual exports screenshots as SVG only; this renders the same full update
    of the screen's compositor (private, but what `export_screenshot` uses) to
    a recording console without colours.
    """
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, color_system=None
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], within_s: float = 30.0
) -> None:
    """Let the app run until `condition()` holds, and the screen show it;
    AssertionError after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {within_s} s:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)
    # What made the condition true may not be on the screen yet.
    await pilot.pause()


async def settled_screen_text(pilot: Pilot[Any], within_s: float = 5.0) -> str:
    """The screen once it has stopped changing: the footer, for one, follows the
    focus a refresh or two later."""
    deadline = time.monotonic() + within_s
    previous = screen_text(pilot.app)
    while True:
        await pilot.pause(SETTLE_S)
        current = screen_text(pilot.app)
        if current == previous or time.monotonic() > deadline:
            return current
        previous = current


async def assert_matches_snapshot(pilot: Pilot[Any], name: str) -> None:
    """The screen, once settled, is character for character tests/unit/shell/snapshots/
    `name`.txt (durations masked); with NOOS_UPDATE_SNAPSHOTS=1, that file is rewritten."""
    captured = DURATION.sub("N.NN s", await settled_screen_text(pilot))
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get(UPDATE_SNAPSHOTS_ENV) == "1":
        path.write_text(captured)
        return
    assert path.exists(), f"no snapshot {path}: run with {UPDATE_SNAPSHOTS_ENV}=1"
    expected = path.read_text()
    assert captured == expected, f"the screen differs from {path}:\n{captured}"
