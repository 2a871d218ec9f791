"""Helpers of the shell's pilot tests: the screen as plain text, and waiting for it."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot


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
    pilot: Pilot[Any], condition: Callable[[], bool], within_s: float = 10.0
) -> None:
    """Let the app run until `condition()` holds; AssertionError after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {within_s} s:\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)
