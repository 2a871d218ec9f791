"""The input line, with the history of the lines entered (Up/Down)."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class CommandLine(Input):
    """One line of input: a command, a question, a request."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "History", show=False),
        Binding("down", "history(1)", "History", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        # Coming back to the line (Esc, or typing on a list of results) goes on
        # with it: a selection would make the next key replace it.
        super().__init__(placeholder="a command, or ask in words", id=id, select_on_focus=False)
        # A steady cursor: each blink redraws the line, twice a second even when
        # idle, which on a serial console (and under emulation) is not free.
        self.cursor_blink = False
        self.history: list[str] = []
        # Where Up/Down are in the history: len(history) is the line being typed.
        self._position = 0
        self._draft = ""

    def add_to_history(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._position = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._position == len(self.history):
            self._draft = self.value
        self._position = max(0, min(len(self.history), self._position + step))
        line = self._draft if self._position == len(self.history) else self.history[self._position]
        self.value = line
        self.cursor_position = len(line)
