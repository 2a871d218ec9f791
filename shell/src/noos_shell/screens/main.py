"""The main screen: status, transcript, and the input line; which flow each line goes to.

What each intent does is in `noos_shell.flows`; the screen lays out, binds
keys, routes lines, and runs the flows in workers. A command runs here: while
it runs, the input line is its input.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList

from noos import FileHit
from noos_shell import flows
from noos_shell.directory import cd_target, change_directory
from noos_shell.journal import Journal, is_kept_out
from noos_shell.pty_runner import PtyCommand
from noos_shell.routing import Intent, IntentKind, route
from noos_shell.screens.history_search import HistorySearch
from noos_shell.services import Services, StatusSnapshot
from noos_shell.widgets.command_line import CommandLine
from noos_shell.widgets.proposal import Decision, ProposalPanel
from noos_shell.widgets.results import ResultsBlock
from noos_shell.widgets.route_hint import RouteHint
from noos_shell.widgets.status_panel import StatusPanel
from noos_shell.widgets.transcript import CommandBlock, Notice, Transcript

# The group of the workers that wait on services: Ctrl+C cancels them.
SERVICES = "services"
# F2 steps through these to override the routing of the line being typed.
ROUTE_CHOICES = [None, *IntentKind]
# The first line of every session: the ways out.
KEYS_HINT = "F12: plain shell · Ctrl+R: search history · Ctrl+Q: quit to the login shell"


class MainScreen(Screen[None]):
    """One input line; each line entered becomes a block of the transcript."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "interrupt", "Interrupt", priority=True),
        Binding("f2", "cycle_route", "Route"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("ctrl+r", "search_history", "History"),
        Binding("escape", "dismiss_notices", "Input", show=False),
    ]

    def __init__(self, services: Services, cwd: Path) -> None:
        super().__init__()
        self.services = services
        self.cwd = cwd
        self._previous_cwd = cwd
        self.journal = Journal()
        self.running: PtyCommand | None = None
        self.forced_kind: IntentKind | None = None

    def compose(self) -> ComposeResult:
        yield StatusPanel(id="status")
        yield Transcript(id="transcript")
        yield RouteHint(id="route-hint")
        yield CommandLine(id="command-line")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(CommandLine).focus()
        self._show_route("")
        await self.transcript.add(Notice(KEYS_HINT))

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @cached_property
    def flow(self) -> flows.Flow:
        """What the flows work with; made on first use, once the transcript is mounted."""
        return flows.Flow(self.services, self.transcript, self.journal)

    def show_status(self, status: StatusSnapshot) -> None:
        self.query_one(StatusPanel).show(status)

    # The input line.

    def intent_for(self, line: str) -> Intent | None:
        if self.forced_kind is not None and line.strip():
            return Intent(self.forced_kind, line.strip().lstrip("!?").strip(), "chosen with F2")
        return route(line)

    def _show_route(self, line: str) -> None:
        intent = self.intent_for(line) if self.running is None else None
        self.query_one(RouteHint).show(self.cwd, intent, self.forced_kind is not None)

    @on(Input.Changed, "#command-line")
    def _line_changed(self, event: Input.Changed) -> None:
        self._show_route(event.value)

    @on(Input.Submitted, "#command-line")
    async def _line_entered(self, event: Input.Submitted) -> None:
        line = event.value
        command_line = self.query_one(CommandLine)
        command_line.value = ""
        if self.running is not None:
            # A running command reads the line, as in a terminal.
            self.running.write(line + "\n")
            return
        intent = self.intent_for(line)
        self.forced_kind = None
        self._show_route("")
        if intent is None:
            return
        # A line that starts with a space stays out of the history and of memory.
        noted = not is_kept_out(line)
        if noted:
            command_line.add_to_history(line)
        await self.dispatch(intent, noted)

    async def dispatch(self, intent: Intent, noted: bool = True) -> None:
        """Do what `intent` asks; anything slow runs in a worker. `noted`: what
        it does goes to memory."""
        flow = self.flow if noted else replace(self.flow, noted=False)
        if intent.kind is IntentKind.COMMAND:
            target = cd_target(intent.payload)
            if target is not None:
                await self._change_directory(intent.payload, target)
            else:
                self.run_worker(self.run_command(intent.payload, flow), group="command")
            return
        await self.transcript.add(Notice(f"→ {intent.kind.value} ({intent.why})"))
        run_flow = flows.INTENT_FLOWS[intent.kind]
        self.run_worker(run_flow(flow, intent.payload), group=SERVICES)

    # Commands.

    async def run_command(self, command: str, flow: flows.Flow) -> None:
        """Run `command` in a terminal of its own, show how it went, and note it
        in memory (unless `flow` is of a line kept out)."""
        block = CommandBlock(command)

        def show_output(raw: str) -> None:
            block.append_output(raw)
            self.transcript.follow()

        columns = max(20, self.transcript.size.width - 2)
        # Set before the first await: lines entered from now on are the command's input.
        self.running = PtyCommand(command, show_output, cwd=self.cwd, columns=columns)
        self._show_route("")
        try:
            await self.transcript.add(block)
            result = await self.running.run()
        finally:
            self.running = None
        self._show_route(self.query_one(CommandLine).value)
        block.finish(result)
        self.transcript.follow()
        await flows.after_command(flow, block, result, self.cwd)

    async def _change_directory(self, command: str, target: str) -> None:
        try:
            destination = change_directory(self.cwd, target, self._previous_cwd)
        except OSError as exc:
            await self.transcript.add(Notice(f"$ {command}: {exc}", "red"))
            return
        self._previous_cwd, self.cwd = self.cwd, destination
        self._show_route("")

    def action_interrupt(self) -> None:
        """Ctrl+C: interrupt the running command, else stop what the services
        are doing for us (their jobs are cancelled), else clear the line."""
        if self.running is not None:
            self.running.interrupt()
        elif any(worker.group == SERVICES and worker.is_running for worker in self.workers):
            self.workers.cancel_group(self, SERVICES)
        else:
            self.query_one(CommandLine).value = ""

    def action_cycle_route(self) -> None:
        position = ROUTE_CHOICES.index(self.forced_kind)
        self.forced_kind = ROUTE_CHOICES[(position + 1) % len(ROUTE_CHOICES)]
        self._show_route(self.query_one(CommandLine).value)

    async def action_clear(self) -> None:
        await self.transcript.remove_children()

    def take_typing(self, key: events.Key) -> None:
        """Text typed on a list of results goes to the input line, with the
        focus: a list reads no text, and a question typed straight after a find
        would go nowhere. Called before the key is dispatched, so that the
        focus moves at once and keys typed in a burst keep their order."""
        focused = self.focused
        on_results = isinstance(focused, OptionList) and isinstance(focused.parent, ResultsBlock)
        if key.is_printable and on_results:
            self.set_focus(self.query_one(CommandLine))

    def action_focus_input(self) -> None:
        self.query_one(CommandLine).focus()

    def action_dismiss_notices(self) -> None:
        """Esc: dismiss the toasts (a break suggestion), and return to the input."""
        self.app.clear_notifications()
        self.action_focus_input()

    def action_search_history(self) -> None:
        """Ctrl+R: search the commands of the past; the one chosen goes on the input line."""
        command_line = self.query_one(CommandLine)

        def put_on_line(line: str | None) -> None:
            if line is not None:
                command_line.value = line
                command_line.cursor_position = len(line)
            command_line.focus()

        self.app.push_screen(HistorySearch(self.services, command_line.history), put_on_line)

    # Proposals: a command for a request, run only if the user says so.

    async def show_proposal(self, request: str, command: str) -> ProposalPanel:
        return await flows.show_proposal(self.flow, request, command)

    @on(ProposalPanel.Decided)
    async def _proposal_decided(self, event: ProposalPanel.Decided) -> None:
        command = event.panel.command
        if event.decision is Decision.DESCRIBE:
            self.run_worker(flows.describe(self.flow, command), group=SERVICES)
            return
        command_line = self.query_one(CommandLine)
        command_line.focus()
        if event.decision is Decision.EXECUTE:
            command_line.add_to_history("!" + command)
            await self.dispatch(Intent(IntentKind.COMMAND, command, "proposal executed"))
        elif event.decision is Decision.EDIT:
            command_line.value = "!" + command
            command_line.cursor_position = len(command_line.value)
        else:
            await self.transcript.add(Notice("aborted: nothing ran"))

    # The index and memory.

    async def show_files(self, query: str, hits: list[FileHit]) -> None:
        """List `hits`, the files found for `query`, to pick one to open."""
        await flows.show_files(self.flow, query, hits)

    @on(ResultsBlock.Picked)
    async def _result_picked(self, event: ResultsBlock.Picked) -> None:
        chosen = event.chosen
        if chosen.path is not None:
            self.open_file(chosen.path, chosen.line)
        elif chosen.memory_id is not None and event.block.forgets:
            event.block.remove()
            self.query_one(CommandLine).focus()
            self.run_worker(flows.forget_memory(self.flow, chosen.memory_id), group=SERVICES)

    def open_file(self, path: str, line: int) -> None:
        """Open `path` at `line` in $VISUAL or $EDITOR, else the pager, handing it the screen."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor:
            argv = [*shlex.split(editor), f"+{line}", path]
        else:
            argv = [os.environ.get("PAGER") or "less", path]
        with self.app.suspend():
            subprocess.run(argv, check=False)
