"""The noos-shell application: one main screen, and the services behind it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, SuspendNotSupported, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from noos_shell.activity import ActivityTracker, break_after_s
from noos_shell.routing import IntentKind
from noos_shell.screens.main import MainScreen
from noos_shell.services import Services, StatusSnapshot
from noos_shell.terminal import ensure_terminal_size, plain_shell_argv

# A break suggestion stays until dismissed (Esc) or for this long.
BREAK_NOTICE_S = 10 * 60.0


class NoosShell(App[None]):
    """The natural-language terminal of noos."""

    CSS_PATH = "noos_shell.tcss"
    TITLE = "noos-shell"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f12", "plain_shell", "Shell"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, bus_address: str | None = None, cwd: Path | None = None) -> None:
        super().__init__()
        self.services = Services(self._show_status, bus_address)
        self.main_screen = MainScreen(self.services, cwd or Path.cwd())
        stretch_s = break_after_s()
        self.activity = ActivityTracker(stretch_s) if stretch_s is not None else None

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)
        self.run_worker(self.services.start(), name="services", exit_on_error=False)

    async def on_unmount(self) -> None:
        await self.services.stop()

    async def on_event(self, event: events.Event) -> None:
        # Input reaches the app before any widget (which may stop it): count it here.
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self._note_activity()
        if isinstance(event, events.Key) and self.screen is self.main_screen:
            self.main_screen.take_typing(event)
        await super().on_event(event)

    def _note_activity(self) -> None:
        stretch_s = self.activity.record_input() if self.activity is not None else None
        if stretch_s is not None:
            self.notify(
                f"{max(1, round(stretch_s / 60))} min at it without a pause. Esc dismisses.",
                title="Time for a break?",
                timeout=BREAK_NOTICE_S,
            )

    def action_plain_shell(self) -> None:
        """F12: the login shell in this terminal, in the current directory; noos-shell
        comes back when it exits."""
        try:
            with self.suspend():
                subprocess.run(plain_shell_argv(), cwd=self.main_screen.cwd, check=False)
        except SuspendNotSupported:
            self.notify("this terminal cannot hand over to a plain shell", severity="error")

    def _show_status(self, status: StatusSnapshot) -> None:
        if self.main_screen.is_mounted:
            self.main_screen.show_status(status)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Clear transcript",
            "Remove every block of the transcript",
            self.main_screen.action_clear,
        )
        yield SystemCommand(
            "Interrupt", "Send Ctrl+C to the running command", self.main_screen.action_interrupt
        )
        for kind in IntentKind:
            yield SystemCommand(
                f"Route as {kind.value}",
                f"Send the next line to {kind.value}, whatever it reads like",
                lambda kind=kind: self._force_route(kind),
            )

    def _force_route(self, kind: IntentKind) -> None:
        self.main_screen.forced_kind = kind
        self.main_screen.action_focus_input()


def main() -> None:
    parser = argparse.ArgumentParser(description="noos-shell: the natural-language terminal")
    parser.add_argument("--bus", help="the bus of the noos services (default: the system bus)")
    arguments = parser.parse_args()
    ensure_terminal_size(sys.stdout.fileno())
    NoosShell(bus_address=arguments.bus).run()
