"""Ctrl+R: search the commands of the past, as you type; Enter puts one on the input line.

Memory is asked first (it holds every session's commands, matched by
meaning); the lines of this session that contain the words typed follow. With
memory down, those lines are all there is.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from noos import NoosError
from noos.terminal_text import terminal_safe_line
from noos_shell.history import line_for_command, matching_lines, remembered_commands
from noos_shell.services import ServiceDown, Services

RESULTS = 10
# Typing fast asks memory once, after the last key, not once per key.
TYPING_PAUSE_S = 0.25


class HistorySearch(ModalScreen[str | None]):
    """An input and the commands that match it; dismissed with the line chosen, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("down", "move(1)", "Next", show=False),
    ]

    def __init__(self, services: Services, history: list[str]) -> None:
        super().__init__()
        self.services = services
        self.history = history
        # The input line of each option, in the order shown.
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="history-search"):
            yield Static(Text("search history", style="bold"), classes="block-title")
            yield Input(placeholder="words of the command", id="history-query")
            yield OptionList(id="history-results")
            yield Static(id="history-source")
            yield Static(Text("Enter: put it on the line · Esc: cancel", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.show(matching_lines(self.history, ""), "this session")

    @on(Input.Changed, "#history-query")
    def _query_changed(self, event: Input.Changed) -> None:
        self.run_worker(self.search(event.value), group="history", exclusive=True)

    async def search(self, query: str) -> None:
        """Show what matches `query`: memory's commands, then this session's lines."""
        if not query.strip():
            self.show(matching_lines(self.history, ""), "this session")
            return
        await asyncio.sleep(TYPING_PAUSE_S)
        local = matching_lines(self.history, query)
        try:
            hits = await self.services.recall(query, RESULTS, kinds=("command",))
        except (ServiceDown, NoosError):
            # Why memory did not answer is the status line's to say.
            self.show(local, "this session only: no answer from memory")
            return
        remembered = [line_for_command(command) for command in remembered_commands(hits)]
        self.show([*remembered, *(line for line in local if line not in remembered)], "memory")

    def show(self, lines: list[str], source: str) -> None:
        self.lines = lines[:RESULTS]
        results = self.query_one(OptionList)
        results.clear_options()
        # Remembered lines are memory's: shown, never obeyed.
        # as Text, not markup: a `[` in a command is a bracket.
        results.add_options([Text(terminal_safe_line(line)) for line in self.lines])
        if self.lines:
            results.highlighted = 0
        self.query_one("#history-source", Static).update(Text(f"from {source}", style="dim"))

    def action_move(self, step: int) -> None:
        results = self.query_one(OptionList)
        if self.lines:
            current = results.highlighted or 0
            results.highlighted = max(0, min(len(self.lines) - 1, current + step))

    @on(Input.Submitted, "#history-query")
    def _query_entered(self) -> None:
        highlighted = self.query_one(OptionList).highlighted
        self.dismiss(self.lines[highlighted] if highlighted is not None else None)

    @on(OptionList.OptionSelected, "#history-results")
    def _option_picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.lines[event.option_index])
