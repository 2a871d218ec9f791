"""The main screen: status, transcript, and the input line; what each line does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList

from noos import FileHit, NoosError, RecallHit
from noos_shell.directory import cd_target, change_directory
from noos_shell.journal import Journal, Note
from noos_shell.prompts import (
    describe_conversation,
    extract_command,
    proposal_conversation,
    question_conversation,
)
from noos_shell.pty_runner import CommandResult, PtyCommand
from noos_shell.routing import Intent, IntentKind, route
from noos_shell.screens.history_search import HistorySearch
from noos_shell.services import ServiceDown, Services, StatusSnapshot
from noos_shell.solutions import (
    SOLUTION_CANDIDATES,
    SOLUTION_KINDS,
    failure_query,
    solution_hint,
)
from noos_shell.widgets.command_line import CommandLine
from noos_shell.widgets.proposal import Decision, ProposalPanel
from noos_shell.widgets.results import ResultsBlock
from noos_shell.widgets.route_hint import RouteHint
from noos_shell.widgets.status_panel import StatusPanel
from noos_shell.widgets.transcript import (
    AnswerBlock,
    CommandBlock,
    Notice,
    Transcript,
    Waiting,
)

ANSWER_TOKENS = 384
PROPOSAL_TOKENS = 64
DESCRIBE_TOKENS = 128
CONTEXT_MEMORIES = 3
CONTEXT_FILES = 3
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
        command_line.add_to_history(line)
        await self.dispatch(intent)

    async def dispatch(self, intent: Intent) -> None:
        """Do what `intent` asks; anything slow runs in a worker."""
        if intent.kind is IntentKind.COMMAND:
            target = cd_target(intent.payload)
            if target is not None:
                await self._change_directory(intent.payload, target)
            else:
                self.run_worker(self.run_command(intent.payload), group="command")
            return
        await self.transcript.add(Notice(f"→ {intent.kind.value} ({intent.why})"))
        flows = {
            IntentKind.FIND: self._find,
            IntentKind.REMEMBER: self._remember,
            IntentKind.RECALL: self._recall,
            IntentKind.FORGET: self._forget,
            IntentKind.PROPOSE: self._propose,
            IntentKind.QUESTION: self._answer,
        }
        self.run_worker(flows[intent.kind](intent.payload), group=SERVICES)

    # Commands.

    async def run_command(self, command: str) -> None:
        """Run `command` in a terminal of its own, show how it went, and note it in memory."""
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
        if not result.succeeded:
            await self._hint_solution(block, result)
        await self._note(self.journal.command_notes(result, str(self.cwd)))

    async def _hint_solution(self, block: CommandBlock, result: CommandResult) -> None:
        """Show under a failure how a failure like it was solved before, if memory knows."""
        try:
            hits = await self.services.recall(
                failure_query(result), SOLUTION_CANDIDATES, kinds=SOLUTION_KINDS
            )
        except (ServiceDown, NoosError):
            return
        hint = solution_hint(hits, result.command)
        if hint is not None:
            await block.show_hint(hint)
            self.transcript.follow()

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

    async def _propose(self, request: str) -> None:
        waiting = Waiting("asking the model for a command…")
        await self.transcript.add(waiting)
        try:
            answer = await self.services.ask(proposal_conversation(request), PROPOSAL_TOKENS)
        except (ServiceDown, NoosError) as exc:
            await self._service_failed(exc)
            return
        finally:
            await waiting.remove()
        command = extract_command(answer)
        if command is None:
            await self.transcript.add(Notice("the model proposed no command", "yellow"))
            return
        await self.show_proposal(request, command)

    async def show_proposal(self, request: str, command: str) -> ProposalPanel:
        panel = ProposalPanel(request, command)
        await self.transcript.add(panel)
        panel.focus()
        return panel

    @on(ProposalPanel.Decided)
    async def _proposal_decided(self, event: ProposalPanel.Decided) -> None:
        command = event.panel.command
        if event.decision is Decision.DESCRIBE:
            self.run_worker(self._describe(command), group=SERVICES)
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

    async def _describe(self, command: str) -> None:
        block = AnswerBlock(f"what does `{command}` do?")
        await self._stream_into(block, describe_conversation(command), DESCRIBE_TOKENS)

    # Questions.

    async def _answer(self, question: str) -> None:
        block = AnswerBlock(question)
        # Ctrl+C while memory and the index are asked, before the first piece,
        # ends the answer too: else its block would say "thinking…" for good.
        try:
            await self.transcript.add(block)
            memories, files = await self._context_of(question)
        except asyncio.CancelledError:
            block.fail("cancelled")
            raise
        block.set_context(len(memories), len(files))
        conversation = question_conversation(question, memories, files)
        if await self._stream_into(block, conversation, ANSWER_TOKENS):
            await self._note([self.journal.question_note(question, block.answer)])

    async def _context_of(self, question: str) -> tuple[list[RecallHit], list[FileHit]]:
        """The memories and files that `question` is answered with; a question is
        worth answering without them, so a service down leaves its part out."""
        memories: list[RecallHit] = []
        files: list[FileHit] = []
        with contextlib.suppress(ServiceDown, NoosError):
            memories = await self.services.recall(question, CONTEXT_MEMORIES)
        with contextlib.suppress(ServiceDown, NoosError):
            files = await self.services.search(question, CONTEXT_FILES)
        return memories, files

    async def _stream_into(
        self, block: AnswerBlock, conversation: Sequence[tuple[str, str]], max_tokens: int
    ) -> bool:
        """Stream the answer to `conversation` into `block`; whether it came whole.

        Cancelled (Ctrl+C) before the stream ended, the block says "cancelled";
        an answer that ended first stays whole, even if Ctrl+C came meanwhile."""
        try:
            if not block.is_mounted:
                await self.transcript.add(block)
            async for piece in self.services.stream(list(conversation), max_tokens):
                block.append(piece)
                self.transcript.follow()
        except ServiceDown as exc:
            block.fail(f"{exc} (plain commands still run)")
            return False
        except NoosError as exc:
            block.fail(str(exc))
            return False
        except asyncio.CancelledError:
            block.fail("cancelled")
            raise
        return True

    # The index and memory.

    async def _find(self, query: str) -> None:
        try:
            hits = await self.services.search(query)
        except (ServiceDown, NoosError) as exc:
            await self._service_failed(exc)
            return
        if not hits:
            await self.transcript.add(Notice(f"no file matches '{query}'"))
            return
        await self.show_files(query, hits)

    async def show_files(self, query: str, hits: list[FileHit]) -> None:
        """List `hits`, the files found for `query`, to pick one to open."""
        block = ResultsBlock.of_files(query, hits)
        await self.transcript.add(block)
        block.query_one(OptionList).focus()

    async def _remember(self, text: str) -> None:
        try:
            await self.services.remember(text, "note")
        except (ServiceDown, NoosError) as exc:
            await self._service_failed(exc)
            return
        await self.transcript.add(Notice(f"remembered: {text}", "green"))

    async def _recall(self, query: str) -> None:
        await self._memories(query, f"memory: {query}", "Esc returns to the input", forgets=False)

    async def _forget(self, query: str) -> None:
        hint = "Enter forgets the memory picked · Esc keeps them all"
        await self._memories(query, f"forget which? {query}", hint, forgets=True)

    async def _memories(self, query: str, title: str, hint: str, *, forgets: bool) -> None:
        try:
            hits = await self.services.recall(query)
        except (ServiceDown, NoosError) as exc:
            await self._service_failed(exc)
            return
        if not hits:
            await self.transcript.add(Notice(f"no memory matches '{query}'"))
            return
        block = ResultsBlock.of_memories(title, hint, hits)
        block.forgets = forgets
        await self.transcript.add(block)
        block.query_one(OptionList).focus()

    @on(ResultsBlock.Picked)
    async def _result_picked(self, event: ResultsBlock.Picked) -> None:
        chosen = event.chosen
        if chosen.path is not None:
            self.open_file(chosen.path, chosen.line)
        elif chosen.memory_id is not None and event.block.forgets:
            event.block.remove()
            self.query_one(CommandLine).focus()
            self.run_worker(self._forget_memory(chosen.memory_id), group=SERVICES)

    async def _forget_memory(self, memory_id: str) -> None:
        try:
            forgotten = await self.services.forget([memory_id])
        except (ServiceDown, NoosError) as exc:
            await self._service_failed(exc)
            return
        await self.transcript.add(Notice(f"forgot {forgotten} memory", "green"))

    def open_file(self, path: str, line: int) -> None:
        """Open `path` at `line` in $VISUAL or $EDITOR, else the pager, handing it the screen."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor:
            argv = [*shlex.split(editor), f"+{line}", path]
        else:
            argv = [os.environ.get("PAGER") or "less", path]
        with self.app.suspend():
            subprocess.run(argv, check=False)

    # Memory of the session, and failures of services.

    async def _note(self, notes: Sequence[Note]) -> None:
        """Remember `notes`; without memory the session goes unrecorded, quietly."""
        for note in notes:
            try:
                await self.services.remember(note.text, note.kind, note.importance, **note.metadata)
            except (ServiceDown, NoosError):
                return

    async def _service_failed(self, error: Exception) -> None:
        suffix = " (plain commands still run)" if isinstance(error, ServiceDown) else ""
        await self.transcript.add(Notice(f"{error}{suffix}", "red"))
