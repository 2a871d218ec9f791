"""The shell with the real memory service (MiniLM) alone: solutions it remembers, Ctrl+R.

Each module gets a memory of its own (see conftest): what these tests
remember meets nothing the other modules did.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from noos import Memory
from noos_shell.app import NoosShell
from noos_shell.screens.history_search import HistorySearch
from noos_shell.services import ServiceName
from noos_shell.widgets.command_line import CommandLine
from noos_shell.widgets.transcript import CommandBlock
from tests.fixtures.noosd_process import NoosdProcess
from tests.unit.shell.screen import screen_text, wait_until

SIZE = (80, 24)
# Recall embeds its query first: quick, but not on a busy machine.
RECALL_S = 30.0
HINT = "you solved something like this before"


@pytest.fixture
def app(services_bus: str, memory_service: NoosdProcess, tmp_path: Path) -> NoosShell:
    return NoosShell(bus_address=services_bus, cwd=tmp_path)


async def run(pilot: Pilot[None], line: str) -> CommandBlock:
    """Enter `line`; its block, once the command has ended, the hint for it (if any)
    is shown, and its notes are in memory: all of that happens in the command's worker."""
    app = pilot.app
    before = len(app.screen.query(CommandBlock))
    command_line = app.screen.query_one(CommandLine)
    command_line.value = line
    await command_line.action_submit()
    await wait_until(
        pilot,
        lambda: (
            len(app.screen.query(CommandBlock)) > before
            and all(worker.is_finished for worker in app.workers)
        ),
        RECALL_S,
    )
    return list(app.screen.query(CommandBlock))[-1]


def hint_of(block: CommandBlock) -> str | None:
    hints = [str(hint.render()) for hint in block.query(".command-hint")]
    return hints[0] if hints else None


async def test_a_failure_like_one_solved_before_shows_the_solution(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services.status.states[ServiceName.MEMORY].up is True)
        first = await run(pilot, "ls /nonexistent-dir")
        assert hint_of(first) is None  # nothing solved yet
        await run(pilot, "ls /tmp")  # the fix: remembered as a solution
        again = await run(pilot, "ls /another-missing-dir")
        assert hint_of(again) == f"{HINT}: `ls /tmp` (after `ls /nonexistent-dir` failed)"
        assert HINT in screen_text(app)
        # Under the failure it is about: the block's last line.
        assert again.children[-1].has_class("command-hint")
        unrelated = await run(pilot, "date --no-such-option")
        assert unrelated.result is not None and not unrelated.result.succeeded
        assert hint_of(unrelated) is None


async def test_ctrl_r_finds_commands_of_an_earlier_session(
    services_bus: str, memory_service: NoosdProcess, tmp_path: Path
) -> None:
    earlier = NoosShell(bus_address=services_bus, cwd=tmp_path)
    async with earlier.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot, lambda: earlier.services.status.states[ServiceName.MEMORY].up is True
        )
        for line in ("uname -s", "echo hello from the earlier session", "pwd"):
            await run(pilot, line)
    # A new session: its own history is empty, memory is not.
    app = NoosShell(bus_address=services_bus, cwd=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, HistorySearch))
        search = app.screen
        assert isinstance(search, HistorySearch)
        assert search.lines == []
        await pilot.press(*"echo hello")
        await wait_until(pilot, lambda: "from memory" in screen_text(app), RECALL_S)
        assert search.lines[0] == "echo hello from the earlier session"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistorySearch))
        assert app.screen.query_one(CommandLine).value == "echo hello from the earlier session"


async def test_the_tiers_are_live_when_another_client_remembers(
    app: NoosShell, services_bus: str
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services.status.states[ServiceName.MEMORY].up is True)
        before = sum(app.services.status.memory_tiers)
        # Not the shell: nothing it does would make it read the counts again.
        async with await Memory.connect(services_bus) as memory:
            memory_id = await memory.remember("the status panel counts this one")
            await wait_until(pilot, lambda: sum(app.services.status.memory_tiers) == before + 1)
            hot, warm, cold = app.services.status.memory_tiers
            assert f"{hot} hot {warm} warm {cold} cold" in screen_text(app)
            await memory.forget([memory_id])
            await wait_until(pilot, lambda: sum(app.services.status.memory_tiers) == before)
