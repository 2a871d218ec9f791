"""Attack: another user sends file descriptors with every call to fill a service's fd table.

dbus-fast keeps the descriptors a message brings; unless the runtime closes
them, about a thousand calls from anyone exhaust a service's table (its
LimitNOFILE) for everyone.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import send_fds_as
from tests.fixtures.noosd_process import NoosdProcess

NOBODY = 65534
ROUNDS = 40
# Descriptors a service may open lazily on its first calls (a log, a cache).
SLACK = 3


def open_fds(process: NoosdProcess) -> int:
    return sum(1 for _ in Path(f"/proc/{process.process.pid}/fd").iterdir())


@pytest.fixture
def noosd_scheduler(bus_address: str, tmp_path: Path) -> Iterator[NoosdProcess]:
    """`noosd scheduler` with no models: every Submit fails, after its arguments are read."""
    (tmp_path / "models.d").mkdir()
    env = {
        "NOOS_SCHEDULER_CATALOG_DIR": str(tmp_path / "models.d"),
        "NOOS_SCHEDULER_STATE_DIR": str(tmp_path / "state"),
    }
    process = NoosdProcess("scheduler", "--bus", bus_address, env=env)
    process.wait_for_notification("READY=1", timeout=60)
    yield process
    process.terminate(30)


def attack_as_nobody(bus_address: str, rounds: int) -> int:
    answered = subprocess.run(
        [sys.executable, send_fds_as.__file__, str(NOBODY), bus_address, str(rounds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return int(answered)


def test_descriptors_sent_with_any_call_are_closed_when_the_call_ends(
    bus_address: str, noosd_system: NoosdProcess, noosd_scheduler: NoosdProcess
) -> None:
    # One round first: whatever a service opens on its first calls is its baseline.
    attack_as_nobody(bus_address, 1)
    services = {"system": noosd_system, "scheduler": noosd_scheduler}
    baseline = {name: open_fds(process) for name, process in services.items()}

    replies = attack_as_nobody(bus_address, ROUNDS)

    assert replies == ROUNDS * len(send_fds_as.fd_carrying_calls())
    grown = {name: open_fds(process) - baseline[name] for name, process in services.items()}
    assert all(growth <= SLACK for growth in grown.values()), f"open fds grew by {grown}"
