"""The live status of the services: models and queue, index progress, memory per tier."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from noos.terminal_text import terminal_safe, terminal_safe_line
from noos_shell.services import ServiceName, StatusSnapshot


def service_line(name: ServiceName, status: StatusSnapshot) -> Text:
    state = status.states[name]
    text = Text(f"{name.value}: ", style="bold")
    if state.up is None:
        text.append("…", style="dim")
    elif not state.up:
        text.append("down", style="bold red")
    elif name is ServiceName.SCHEDULER:
        # Model names are the catalog's and the scheduler's: shown, never obeyed.
        resident = ", ".join(terminal_safe_line(name) for name in status.resident)
        text.append(resident or f"{status.models} models")
        text.append(f" q{status.queued_jobs} r{status.running_jobs}", style="dim")
    elif name is ServiceName.INDEX:
        text.append(f"{status.files_indexed} files")
        if status.files_queued or status.crawling:
            text.append(f" +{status.files_queued} queued", style="yellow")
    else:
        hot, warm, cold = status.memory_tiers
        text.append(f"{hot} hot {warm} warm {cold} cold")
    return text


class StatusPanel(Horizontal):
    """One line, a part per service; each says 'down' when its service is.

    The scheduler's part names the models in memory, then its jobs queued (q)
    and running (r); memory's counts its memories per tier."""

    def compose(self) -> ComposeResult:
        for name in ServiceName:
            yield Static(id=f"status-{name.value}", classes="service-status")

    def on_mount(self) -> None:
        self.show(StatusSnapshot())

    def show(self, status: StatusSnapshot) -> None:
        for name in ServiceName:
            part = self.query_one(f"#status-{name.value}", Static)
            part.update(service_line(name, status))
            reason = status.states[name].reason
            part.tooltip = terminal_safe(reason) if reason else None
