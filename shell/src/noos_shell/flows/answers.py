"""Questions answered by the model, and commands it proposes for a request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from noos import FileHit, RecallHit
from noos_shell.flows.base import SERVICE_FAILURES, Flow, failure_text, guarded
from noos_shell.flows.commands import note
from noos_shell.prompts import (
    describe_conversation,
    extract_command,
    proposal_conversation,
    question_conversation,
)
from noos_shell.widgets.proposal import ProposalPanel
from noos_shell.widgets.transcript import AnswerBlock, Notice, Waiting

ANSWER_TOKENS = 384
PROPOSAL_TOKENS = 64
DESCRIBE_TOKENS = 128
CONTEXT_MEMORIES = 3
CONTEXT_FILES = 3


@guarded()
async def propose(flow: Flow, request: str) -> None:
    """Ask the model for a command that does `request`; shown, run only if the user says so."""
    waiting = Waiting("asking the model for a command…")
    await flow.transcript.add(waiting)
    try:
        answer = await flow.services.ask(proposal_conversation(request), PROPOSAL_TOKENS)
    finally:
        await waiting.remove()
    command = extract_command(answer)
    if command is None:
        await flow.transcript.add(Notice("the model proposed no command", "yellow"))
        return
    await show_proposal(flow, request, command)


async def show_proposal(flow: Flow, request: str, command: str) -> ProposalPanel:
    panel = ProposalPanel(request, command)
    await flow.transcript.add(panel)
    panel.focus()
    return panel


async def describe(flow: Flow, command: str) -> None:
    """What `command` does, in the model's words."""
    block = AnswerBlock(f"what does `{command}` do?")
    await stream_into(flow, block, describe_conversation(command), DESCRIBE_TOKENS)


async def answer(flow: Flow, question: str) -> None:
    """Answer `question` from what memory and the index know; note the answer."""
    block = AnswerBlock(question)
    # Ctrl+C while memory and the index are asked, before the first piece,
    # ends the answer too: else its block would say "thinking…" for good.
    try:
        await flow.transcript.add(block)
        memories = await memories_for(flow, question) or []
        files = await files_for(flow, question) or []
    except asyncio.CancelledError:
        block.fail("cancelled")
        raise
    block.set_context(len(memories), len(files))
    conversation = question_conversation(question, memories, files)
    if await stream_into(flow, block, conversation, ANSWER_TOKENS):
        await note(flow, [flow.journal.question_note(question, block.answer)])


# A question is worth answering without its context: a service down leaves its part out.


@guarded(quiet=True)
async def memories_for(flow: Flow, question: str) -> list[RecallHit]:
    return await flow.services.recall(question, CONTEXT_MEMORIES)


@guarded(quiet=True)
async def files_for(flow: Flow, question: str) -> list[FileHit]:
    return await flow.services.search(question, CONTEXT_FILES)


async def stream_into(
    flow: Flow, block: AnswerBlock, conversation: Sequence[tuple[str, str]], max_tokens: int
) -> bool:
    """Stream the answer to `conversation` into `block`; whether it came whole.

    A service's failure is told in the block itself, not as a notice: the
    block would otherwise stay "thinking…". Cancelled (Ctrl+C) before the
    stream ended, the block says "cancelled"; an answer that ended first stays
    whole, even if Ctrl+C came meanwhile."""
    try:
        if not block.is_mounted:
            await flow.transcript.add(block)
        async for piece in flow.services.stream(list(conversation), max_tokens):
            block.append(piece)
            flow.transcript.follow()
    except SERVICE_FAILURES as error:
        block.fail(failure_text(error))
        return False
    except asyncio.CancelledError:
        block.fail("cancelled")
        raise
    return True
