"""Files found in the index; memories remembered, recalled and forgotten."""

from __future__ import annotations

from noos import FileHit
from noos_shell.flows.base import Flow, guarded
from noos_shell.widgets.results import ResultsBlock
from noos_shell.widgets.transcript import Notice

FORGET_HINT = "Enter forgets the memory picked · Esc keeps them all"
RECALL_HINT = "Esc returns to the input"


@guarded()
async def find(flow: Flow, query: str) -> None:
    hits = await flow.services.search(query)
    if not hits:
        await flow.transcript.add(Notice(f"no file matches '{query}'"))
        return
    await show_files(flow, query, hits)


async def show_files(flow: Flow, query: str, hits: list[FileHit]) -> None:
    """List `hits`, the files found for `query`, to pick one to open."""
    block = ResultsBlock.of_files(query, hits)
    await flow.transcript.add(block)


@guarded()
async def remember(flow: Flow, text: str) -> None:
    await flow.services.remember(text, "note")
    await flow.transcript.add(Notice(f"remembered: {text}", "green"))


async def recall(flow: Flow, query: str) -> None:
    await show_memories(flow, query, f"memory: {query}", RECALL_HINT, forgets=False)


async def forget(flow: Flow, query: str) -> None:
    """List the memories like `query`, to pick the one to forget."""
    await show_memories(flow, query, f"forget which? {query}", FORGET_HINT, forgets=True)


@guarded()
async def show_memories(flow: Flow, query: str, title: str, hint: str, *, forgets: bool) -> None:
    hits = await flow.services.recall(query)
    if not hits:
        await flow.transcript.add(Notice(f"no memory matches '{query}'"))
        return
    block = ResultsBlock.of_memories(title, hint, hits)
    block.forgets = forgets
    await flow.transcript.add(block)


@guarded()
async def forget_memory(flow: Flow, memory_id: str) -> None:
    forgotten = await flow.services.forget([memory_id])
    await flow.transcript.add(Notice(f"forgot {forgotten} memory", "green"))
