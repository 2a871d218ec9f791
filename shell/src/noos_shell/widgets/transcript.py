"""The transcript: one block per thing done, newest at the bottom."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from noos.terminal_text import terminal_safe, terminal_safe_keeping_colours, terminal_safe_line
from noos_shell.pty_runner import CommandResult, clean_output

# The most output a command block shows, from its end: a block is laid out
# whole, at a cost that grows with its lines (the full output is the command's).
SHOWN_OUTPUT_LINES = 500
KEPT_OUTPUT_CHARS = 64_000
# Output that comes fast is shown at most this often, not on every read.
OUTPUT_REFRESH_S = 0.1


class Transcript(VerticalScroll):
    """Everything the session did, scrolled to its end as blocks come."""

    async def add(self, block: Widget) -> None:
        await self.mount(block)
        self.scroll_end(animate=False)

    def follow(self) -> None:
        """Keep the newest output in view, unless the user scrolled up to read."""
        if self.is_vertical_scroll_end or self.max_scroll_y - self.scroll_y <= 3:
            self.scroll_end(animate=False)


class Notice(Static):
    """One line from the shell itself: a routing decision, an error, a service down.
    What it quotes (a query, a memory, a service's error) is shown, never obeyed."""

    def __init__(self, text: str, style: str = "dim") -> None:
        super().__init__(Text(terminal_safe(text), style=style))


class Waiting(Static):
    """What the shell waits for, with the seconds so far: a slow service shows
    as slow (the model may wait for others' jobs, load, or read a long context)."""

    def __init__(self, what: str, *, classes: str | None = None) -> None:
        super().__init__(Text(terminal_safe_line(what), style="dim"), classes=classes)
        self.what = terminal_safe_line(what)
        self._started = time.monotonic()
        self._ticks: Timer | None = None
        self._stopped = False

    def on_mount(self) -> None:
        # Stopped before it was shown (an answer cancelled while its block was mounted).
        if not self._stopped:
            self._ticks = self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        seconds = time.monotonic() - self._started
        self.update(Text(f"{self.what} {seconds:.0f} s", style="dim"))

    def stop(self) -> None:
        """Done waiting: the line goes."""
        self._stopped = True
        if self._ticks is not None:
            self._ticks.stop()
        self.display = False


class CommandBlock(Vertical):
    """A command, its output as it comes, and how it ended."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command
        self.result: CommandResult | None = None
        self._raw = ""
        self._lines = 0
        self._render_pending = False
        # Made here, not in compose: output may come before they are mounted.
        self._output = Static(classes="command-output")
        self._status = Static(
            Text("running… (Ctrl+C interrupts)", style="dim"), classes="command-status"
        )

    def compose(self) -> ComposeResult:
        # A command may come from memory (Ctrl+R) or a model's proposal.
        yield Static(
            Text(f"$ {terminal_safe_line(self.command)}", style="bold"), classes="block-title"
        )
        yield self._output
        yield self._status

    @property
    def output_text(self) -> str:
        """The output shown, as plain text."""
        return self._shown_output().plain

    def _shown_output(self) -> Text:
        lines = clean_output(self._raw).rstrip("\n").split("\n")[-SHOWN_OUTPUT_LINES:]
        # Colours are parsed; any other control (a file another user wrote,
        # cat-ed: ESC c, C1 controls, bidi overrides) is shown, never obeyed.
        shown = Text.from_ansi(terminal_safe_keeping_colours("\n".join(lines)))
        hidden = self._lines - len(lines)
        if hidden > 0:
            shown = Text(f"… {hidden} earlier lines not shown\n", style="dim") + shown
        return shown

    def append_output(self, raw: str) -> None:
        self._raw = (self._raw + raw)[-KEPT_OUTPUT_CHARS:]
        self._lines += raw.count("\n")
        if not self._render_pending:
            self._render_pending = True
            self.set_timer(OUTPUT_REFRESH_S, self._render_output)

    def _render_output(self) -> None:
        self._render_pending = False
        self._output.update(self._shown_output())
        self._output.display = bool(self._raw.strip())

    def finish(self, result: CommandResult) -> None:
        self.result = result
        self._render_output()
        style = "green" if result.succeeded else "bold red"
        self._status.update(
            Text(f"exit {result.exit_status} · {result.seconds:.2f} s", style=style)
        )
        self.set_class(not result.succeeded, "failed")

    async def show_hint(self, hint: str) -> None:
        """Add a line under the exit status: what helped with a failure like this one."""
        await self.mount(Static(Text(terminal_safe(hint), style="yellow"), classes="command-hint"))


class AnswerBlock(Vertical):
    """A question (or request), and the answer as the model makes it."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.answer = ""
        # Why the answer stopped short (None while it has not).
        self.failure: str | None = None
        # Made here, not in compose: each piece of the answer updates them,
        # without a query of the block's children per token.
        self._waiting = Waiting("thinking…", classes="answer-waiting")
        self._text = Static(classes="answer-text")

    def compose(self) -> ComposeResult:
        yield Static(Text(title_line(self.title), style="bold"), classes="block-title")
        yield Static(classes="answer-context")
        yield self._waiting
        yield self._text

    def set_context(self, memories: int, files: int) -> None:
        """Say what the answer was given to go on."""
        self.query_one(".answer-context", Static).update(
            Text(f"context: {memories} memories, {files} files", style="dim")
        )

    def append(self, piece: str) -> None:
        self._waiting.stop()
        self.answer += piece
        # A model's answer, or what it read, may carry terminal controls.
        self._text.update(Text(terminal_safe(self.answer.strip())))

    def fail(self, why: str) -> None:
        self.failure = why
        self._waiting.stop()
        self._text.update(
            Text(
                terminal_safe(self.answer.strip() + ("\n" if self.answer.strip() else "") + why),
                style="red",
            )
        )


def title_line(title: str) -> str:
    return f"? {terminal_safe_line(title)}"
