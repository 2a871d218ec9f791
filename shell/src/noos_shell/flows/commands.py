"""What follows a command: a hint from memory when it failed, and the session's notes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from noos_shell.flows.base import Flow, guarded
from noos_shell.journal import Note
from noos_shell.pty_runner import CommandResult
from noos_shell.solutions import (
    SOLUTION_CANDIDATES,
    SOLUTION_KINDS,
    failure_query,
    solution_hint,
)
from noos_shell.widgets.transcript import CommandBlock


async def after_command(flow: Flow, block: CommandBlock, result: CommandResult, cwd: Path) -> None:
    """Hint under a failure how one like it was solved, then note the command
    (run in `cwd`) in memory."""
    if not result.succeeded:
        await hint_solution(flow, block, result)
    if flow.noted:
        await note(flow, flow.journal.command_notes(result, str(cwd)))


@guarded(quiet=True)
async def hint_solution(flow: Flow, block: CommandBlock, result: CommandResult) -> None:
    """Show under a failure how a failure like it was solved before, if memory knows."""
    hits = await flow.services.recall(
        failure_query(result), SOLUTION_CANDIDATES, kinds=SOLUTION_KINDS
    )
    hint = solution_hint(hits, result.command)
    if hint is not None:
        await block.show_hint(hint)
        flow.transcript.follow()


@guarded(quiet=True)
async def note(flow: Flow, notes: Sequence[Note]) -> None:
    """Remember `notes`; without memory the session goes unrecorded, quietly
    (the first failure ends it: the rest would fail alike). A flow of a line
    kept out of memory notes nothing."""
    if not flow.noted:
        return
    for each in notes:
        await flow.services.remember(each.text, each.kind, each.importance, **each.metadata)
