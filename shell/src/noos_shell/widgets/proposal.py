"""A proposed command, never run until someone says so: Execute, Describe, Edit, Abort."""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from noos.terminal_text import terminal_safe_line


class Decision(enum.Enum):
    EXECUTE = "execute"
    DESCRIBE = "describe"
    EDIT = "edit"
    ABORT = "abort"


class ProposalPanel(Vertical, can_focus=True):
    """The command proposed for a request, and the four things to do with it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "decide('execute')", "Execute"),
        Binding("d", "decide('describe')", "Describe"),
        Binding("e", "decide('edit')", "Edit"),
        Binding("a,escape", "decide('abort')", "Abort"),
    ]

    class Decided(Message):
        def __init__(self, panel: ProposalPanel, decision: Decision) -> None:
            super().__init__()
            self.panel = panel
            self.decision = decision

    def __init__(self, request: str, command: str) -> None:
        super().__init__()
        self.request = request
        self.command = command
        self.decided: Decision | None = None

    def compose(self) -> ComposeResult:
        # The command is a model's: what it says is shown, never obeyed.
        request, command = terminal_safe_line(self.request), terminal_safe_line(self.command)
        yield Static(Text(f"proposed for: {request}", style="dim"), classes="block-title")
        yield Static(Text(f"$ {command}", style="bold yellow"), classes="proposed-command")
        with Horizontal(classes="proposal-buttons"):
            yield Button("e[u]X[/]ecute", id="execute", variant="success", compact=True)
            yield Button("[u]D[/]escribe", id="describe", compact=True)
            yield Button("[u]E[/]dit", id="edit", compact=True)
            yield Button("[u]A[/]bort", id="abort", variant="error", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id is not None:
            self.action_decide(event.button.id)

    def action_decide(self, decision_name: str) -> None:
        decision = Decision(decision_name)
        if self.decided in (Decision.EXECUTE, Decision.EDIT, Decision.ABORT):
            return
        if decision is not Decision.DESCRIBE:
            self.decided = decision
            self.query_one(".proposal-buttons").remove()
            self.query_one(".block-title", Static).update(
                Text(
                    f"proposed for: {terminal_safe_line(self.request)} · {decision.value}",
                    style="dim",
                )
            )
        self.post_message(self.Decided(self, decision))
