"""The main screens at 80x24, compared character for character with tests/unit/shell/snapshots.

Rewrite the captures after a deliberate change with NOOS_UPDATE_SNAPSHOTS=1,
and read the diff. The shell runs in / with a home elsewhere, with no service
on its bus, so that nothing in the captures depends on the machine or the day.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from noos import FileHit
from noos_shell.app import NoosShell
from noos_shell.widgets.command_line import CommandLine
from noos_shell.widgets.transcript import CommandBlock
from tests.fixtures.private_bus import PrivateBus
from tests.unit.shell.screen import assert_matches_snapshot, screen_text, wait_until

SIZE = (80, 24)
HOUR_S = 3600.0


@pytest.fixture(scope="module")
def empty_bus() -> Iterator[str]:
    bus = PrivateBus()
    yield bus.address
    bus.stop()


@pytest.fixture
def app(empty_bus: str, monkeypatch: pytest.MonkeyPatch) -> NoosShell:
    monkeypatch.setenv("HOME", "/nonexistent-home")
    return NoosShell(bus_address=empty_bus, cwd=Path("/"))


def all_down(app: NoosShell) -> bool:
    return all(state.up is False for state in app.services.status.states.values())


def finished_commands(app: NoosShell) -> int:
    return sum(block.result is not None for block in app.screen.query(CommandBlock))


async def enter(pilot: Pilot[None], line: str) -> None:
    pilot.app.screen.query_one(CommandLine).value = line
    await pilot.press("enter")


async def test_start_screen_with_services_down(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        await assert_matches_snapshot(pilot, "start_services_down")


async def test_after_echo_hi_with_a_question_typed(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        await enter(pilot, "echo hi")
        await wait_until(pilot, lambda: finished_commands(app) == 1)
        # A line being typed shows where it will go.
        app.screen.query_one(CommandLine).value = "what is noos?"
        await assert_matches_snapshot(pilot, "echo_hi")


async def test_a_proposal(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        await app.main_screen.show_proposal("show the hidden files here", "ls -la")
        # The footer shows the panel's keys once it has the focus.
        await wait_until(pilot, lambda: "x Execute" in screen_text(app))
        await assert_matches_snapshot(pilot, "proposal")


async def test_find_results(app: NoosShell) -> None:
    # Ages in whole hours, a minute past: the same text however long the test takes.
    now = time.time()
    hits = [
        FileHit(
            "/home/ada/notes/kafka.md",
            0.82,
            "3  Kafka keeps the log of every topic\n4  \n5  partitions are the unit of order",
            3,
            5,
            now - 3 * HOUR_S - 60,
            "markdown",
        ),
        FileHit(
            "/home/ada/src/consumer.py",
            0.64,
            "12  def consume(topic):\n13      for message in subscribe(topic):",
            12,
            13,
            now - 50 * HOUR_S - 60,
            "python",
        ),
    ]
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        await app.main_screen.show_files("notes on kafka", hits)
        await assert_matches_snapshot(pilot, "find_results")


async def test_history_search_without_memory(app: NoosShell) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: all_down(app))
        for count, line in enumerate(("echo alpha", "true", "echo alphabet"), 1):
            await enter(pilot, line)
            await wait_until(pilot, lambda: finished_commands(app) == count)  # noqa: B023 (used in this iteration only)
        await pilot.press("ctrl+r", *"alpha")
        await wait_until(pilot, lambda: "no answer from memory" in screen_text(app))
        await assert_matches_snapshot(pilot, "history_search")
