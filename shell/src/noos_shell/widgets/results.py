"""Results of the index and of memory, as a list to pick from."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from noos import FileHit, RecallHit
from noos.terminal_text import terminal_safe_line

SNIPPET_LINES = 2


def age(seconds_since_epoch: float, now: float | None = None) -> str:
    """How long ago, in the largest whole unit: '5 min ago', '3 d ago'."""
    seconds = max(0.0, (time.time() if now is None else now) - seconds_since_epoch)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def file_option(hit: FileHit) -> Text:
    # Names, snippets and memories may be another user's: shown, never obeyed.
    text = Text(f"{terminal_safe_line(hit.path)}:{hit.start_line}", style="bold")
    text.append(f"  {age(hit.mtime)}", style="dim")
    # The snippet's lines come numbered; blank ones say nothing.
    lines = [line.strip() for line in hit.snippet.splitlines() if len(line.split()) > 1]
    for line in lines[:SNIPPET_LINES]:
        text.append("\n  " + terminal_safe_line(line))
    return text


def memory_option(hit: RecallHit) -> Text:
    first_line = hit.memory.text.splitlines()[0] if hit.memory.text else ""
    text = Text(terminal_safe_line(first_line), style="bold")
    text.append(
        f"  {terminal_safe_line(hit.memory.kind)}, {age(hit.memory.created_at)}", style="dim"
    )
    return text


@dataclass(frozen=True)
class Chosen:
    """A result that was picked: a file (and its line) or a memory."""

    path: str | None = None
    line: int = 1
    memory_id: str | None = None


class ResultsBlock(Vertical):
    """A title and a list of results; Enter on one posts `Picked`."""

    class Picked(Message):
        def __init__(self, block: ResultsBlock, chosen: Chosen) -> None:
            super().__init__()
            self.block = block
            self.chosen = chosen

    def __init__(self, title: str, hint: str) -> None:
        super().__init__()
        self.title = title
        self.hint = hint
        self.chosen: list[Chosen] = []
        # Whether picking a memory forgets it (the results of "forget ...").
        self.forgets = False
        self._options: list[Option] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(terminal_safe_line(self.title), style="bold"), classes="block-title")
        yield OptionList(*self._options)
        yield Static(Text(terminal_safe_line(self.hint), style="dim"))

    def on_mount(self) -> None:
        # The list takes the focus once it exists: a flow that queried it right
        # after mounting the block sometimes found no list yet (seen in tests).
        self.query_one(OptionList).focus()

    @classmethod
    def of_files(cls, query: str, hits: list[FileHit]) -> ResultsBlock:
        block = cls(f"find: {query}", "Enter opens in $EDITOR (or the pager) · Esc: the input")
        block._options = [Option(file_option(hit)) for hit in hits]
        block.chosen = [Chosen(path=hit.path, line=hit.start_line) for hit in hits]
        return block

    @classmethod
    def of_memories(cls, title: str, hint: str, hits: list[RecallHit]) -> ResultsBlock:
        block = cls(title, hint)
        block._options = [Option(memory_option(hit)) for hit in hits]
        block.chosen = [Chosen(memory_id=hit.memory.id) for hit in hits]
        return block

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Picked(self, self.chosen[event.option_index]))
