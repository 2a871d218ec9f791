"""The shell on a private bus with no service on it: commands, proposals, the screen."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from noos import FileHit
from noos_shell.app import NoosShell
from noos_shell.routing import IntentKind
from noos_shell.screens.history_search import HistorySearch
from noos_shell.screens.main import KEYS_HINT
from noos_shell.services import ServiceName
from noos_shell.widgets.command_line import CommandLine
from noos_shell.widgets.route_hint import RouteHint
from noos_shell.widgets.transcript import AnswerBlock, CommandBlock, Notice, Waiting
from tests.fixtures.private_bus import PrivateBus
from tests.unit.shell.screen import screen_text, wait_until

SIZE = (80, 24)


@pytest.fixture(scope="module")
def empty_bus() -> Iterator[str]:
    """A bus of its own, with no noos service on it."""
    bus = PrivateBus()
    yield bus.address
    bus.stop()


@pytest.fixture
def app(empty_bus: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> NoosShell:
    monkeypatch.setenv("NOOS_BUS_ADDRESS", empty_bus)
    return NoosShell(cwd=tmp_path)


def all_down(app: NoosShell) -> bool:
    return all(state.up is False for state in app.services.status.states.values())


def command_blocks(app: NoosShell) -> list[CommandBlock]:
    return list(app.screen.query(CommandBlock))


def finished(block: CommandBlock) -> bool:
    return block.result is not None


async def enter(pilot: Pilot[None], line: str) -> None:
    pilot.app.screen.query_one(CommandLine).value = line
    await pilot.press("enter")


def first_command_finished(app: NoosShell) -> bool:
    blocks = command_blocks(app)
    return bool(blocks) and finished(blocks[0])


async def test_echo_hi_shows_its_output_and_exit_status(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"echo hi", "enter")
        await wait_until(pilot, lambda: first_command_finished(app))
        (block,) = command_blocks(app)
        assert block.output_text.strip() == "hi"
        text = screen_text(app)
        assert "$ echo hi" in text
        assert "exit 0" in text


async def test_a_failing_command_says_its_status(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "false")
        await wait_until(pilot, lambda: first_command_finished(app))
        assert "exit 1" in screen_text(app)
        assert command_blocks(app)[0].has_class("failed")


async def test_services_down_and_commands_still_run(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        status_line = screen_text(app).splitlines()[0]
        for name in ServiceName:
            assert f"{name.value}: down" in status_line
        await enter(pilot, "echo still here")
        await wait_until(pilot, lambda: first_command_finished(app))
        assert command_blocks(app)[0].output_text.strip() == "still here"


async def test_a_question_without_scheduler_says_it_is_down(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "what is the capital of France?")
        await wait_until(pilot, lambda: "scheduler is down" in screen_text(app))
        assert app.screen.query(AnswerBlock)
        assert "→ question" in screen_text(app)


async def test_no_bus_at_all_is_all_down(tmp_path: Path) -> None:
    app = NoosShell(bus_address=f"unix:path={tmp_path}/no-bus-here", cwd=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        await enter(pilot, "true")
        await wait_until(pilot, lambda: first_command_finished(app))


async def test_abort_runs_nothing(app: NoosShell, tmp_path: Path) -> None:
    made = tmp_path / "made"
    async with app.run_test(size=SIZE) as pilot:
        panel = await app.main_screen.show_proposal("make a file", f"touch {made}")
        await pilot.pause()
        assert panel.has_focus
        await pilot.click("#abort")
        await wait_until(pilot, lambda: "aborted: nothing ran" in screen_text(app))
        await pilot.pause(0.3)
        assert not command_blocks(app)
        assert not made.exists()


async def test_escape_aborts_too(app: NoosShell, tmp_path: Path) -> None:
    made = tmp_path / "made"
    async with app.run_test(size=SIZE) as pilot:
        await app.main_screen.show_proposal("make a file", f"touch {made}")
        await pilot.press("escape")
        await wait_until(pilot, lambda: "aborted: nothing ran" in screen_text(app))
        assert not made.exists()


async def test_execute_runs_the_command(app: NoosShell, tmp_path: Path) -> None:
    made = tmp_path / "made"
    async with app.run_test(size=SIZE) as pilot:
        await app.main_screen.show_proposal("make a file", f"touch {made}")
        await pilot.pause()
        assert not made.exists()  # shown is not run
        await pilot.press("x")
        await wait_until(pilot, lambda: first_command_finished(app))
        assert made.exists()
        assert "exit 0" in screen_text(app)
        # Decided once: pressing again runs nothing more.
        await pilot.press("x")
        await pilot.pause(0.2)
        assert len(command_blocks(app)) == 1


async def test_edit_puts_the_command_on_the_line(app: NoosShell, tmp_path: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        panel = await app.main_screen.show_proposal("list", "ls -l")
        await pilot.press("e")
        await pilot.pause()
        command_line = app.screen.query_one(CommandLine)
        assert command_line.value == "!ls -l"
        assert command_line.has_focus
        assert panel.decided is not None
        assert not command_blocks(app)


async def test_history_walks_back_and_forth(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        for line in ("true", "echo two"):
            await enter(pilot, line)
        await wait_until(pilot, lambda: len(command_blocks(app)) == 2)
        command_line = app.screen.query_one(CommandLine)
        await pilot.press(*"dra")
        await pilot.press("up")
        assert command_line.value == "echo two"
        await pilot.press("up", "up")
        assert command_line.value == "true"
        await pilot.press("down", "down")
        assert command_line.value == "dra"


async def test_ctrl_c_interrupts_the_running_command(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "sleep 30")
        await wait_until(pilot, lambda: app.main_screen.running is not None)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: finished(command_blocks(app)[0]))
        assert "exit 130" in screen_text(app)


async def test_cd_changes_where_commands_run(app: NoosShell, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "cd sub")
        await enter(pilot, "pwd")
        await wait_until(pilot, lambda: first_command_finished(app))
        assert command_blocks(app)[0].output_text.strip() == str((tmp_path / "sub").resolve())
        await enter(pilot, "cd nowhere")
        await wait_until(pilot, lambda: bool(app.screen.query(Notice)))
        assert "no such directory" in screen_text(app)


async def test_the_routing_shows_and_f2_overrides_it(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"ls")
        hint = app.screen.query_one(RouteHint)
        assert "→ command" in str(hint.render())
        forced = []
        for _ in range(2):
            await pilot.press("f2")
            forced.append(app.main_screen.forced_kind)
        assert forced == [IntentKind.COMMAND, IntentKind.FIND]
        assert "→ find" in str(hint.render())
        assert "chosen with F2" in str(hint.render())


async def test_the_palette_offers_the_shell_commands(app: NoosShell) -> None:
    async with app.run_test(size=SIZE):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Clear transcript" in titles
        assert "Interrupt" in titles
        assert "Route as question" in titles


async def test_long_output_shows_its_end(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await enter(pilot, "seq 1 2000")
        await wait_until(pilot, lambda: first_command_finished(app))
        shown = command_blocks(app)[0].output_text.splitlines()
        assert shown[0] == "… 1500 earlier lines not shown"
        assert shown[1:] == [str(number) for number in range(1501, 2001)]
        result = command_blocks(app)[0].result
        assert result is not None
        assert result.output.splitlines()[0] == "1"  # all of it, though not all shown


async def test_the_session_starts_with_the_ways_out(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert KEYS_HINT in screen_text(app)


async def test_f12_hands_the_terminal_to_the_login_shell(
    app: NoosShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[tuple[list[str], Path]] = []

    def run(argv: list[str], *, cwd: Path, check: bool) -> None:
        runs.append((argv, cwd))

    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.setattr(subprocess, "run", run)
    # The headless driver of the tests cannot suspend; a terminal's can.
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=SIZE) as pilot:
        assert "f12 Shell" in screen_text(app).splitlines()[-1]
        await pilot.press("f12")
        await pilot.pause()
    assert runs == [(["/bin/sh", "-l"], tmp_path)]


async def test_f12_where_the_terminal_cannot_be_handed_over(app: NoosShell) -> None:
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("f12")
        await wait_until(pilot, lambda: "cannot hand over" in screen_text(app))


async def test_a_break_is_suggested_and_esc_dismisses_it(
    empty_bus: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NOOS_SHELL_BREAK_AFTER_MIN", "0.01")  # 0.6 s
    app = NoosShell(bus_address=empty_bus, cwd=tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("l")
        assert "Time for a break?" not in screen_text(app)
        await pilot.pause(0.7)
        await pilot.press("s")
        await wait_until(pilot, lambda: "Time for a break?" in screen_text(app))
        assert app.screen.query_one(CommandLine).value == "ls"  # the key still counts
        await pilot.press("escape")
        await wait_until(pilot, lambda: "Time for a break?" not in screen_text(app))


async def test_ctrl_r_without_memory_searches_the_session(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        for line in ("echo alpha one", "echo beta", "echo alpha two"):
            await enter(pilot, line)
        await wait_until(pilot, lambda: len(command_blocks(app)) == 3)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, HistorySearch))
        search = app.screen
        assert isinstance(search, HistorySearch)
        assert search.lines == ["echo alpha two", "echo beta", "echo alpha one"]
        await pilot.press(*"alpha")
        await wait_until(pilot, lambda: "no answer from memory" in screen_text(app))
        assert search.lines == ["echo alpha two", "echo alpha one"]
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistorySearch))
        command_line = app.screen.query_one(CommandLine)
        assert command_line.value == "echo alpha one"
        assert command_line.has_focus


async def test_ctrl_r_escape_leaves_the_line_alone(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"draft", "ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, HistorySearch))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HistorySearch))
        assert app.screen.query_one(CommandLine).value == "draft"


async def test_typing_on_the_found_files_goes_to_the_input_line(
    app: NoosShell, tmp_path: Path
) -> None:
    note = tmp_path / "garden.md"
    hit = FileHit(str(note), 0.8, "3  The tomatoes need staking", 3, 3, 0.0, "markdown")
    async with app.run_test(size=SIZE) as pilot:
        await app.main_screen.show_files("staking tomatoes", [hit])
        await pilot.pause()
        assert isinstance(app.focused, OptionList)  # Enter would open the file
        await pilot.press(*"? why")
        command_line = app.screen.query_one(CommandLine)
        assert command_line.has_focus
        assert command_line.value == "? why"


async def test_a_wait_shows_its_seconds_and_goes_when_done(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        waiting = Waiting("asking the model for a command…")
        await app.main_screen.transcript.add(waiting)
        await wait_until(pilot, lambda: "for a command… 1 s" in screen_text(app), 5.0)
        waiting.stop()
        await wait_until(pilot, lambda: "for a command…" not in screen_text(app))
