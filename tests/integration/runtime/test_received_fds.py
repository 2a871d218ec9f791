"""Attack: another user sends file descriptors with every call to fill a service's fd table.

dbus-fast keeps the descriptors a message brings; unless the runtime closes
them, about a thousand calls from anyone exhaust a service's table (its
LimitNOFILE) for everyone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbus_fast import MessageType, Variant
from dbus_fast.aio import MessageBus

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


async def test_a_call_bringing_more_descriptors_than_its_method_takes_is_refused(
    bus_address: str, noosd_system: NoosdProcess, noosd_scheduler: NoosdProcess
) -> None:
    baseline = open_fds(noosd_scheduler)
    bus = await MessageBus(bus_address=bus_address, negotiate_unix_fd=True).connect()
    try:
        ping, pipe_ends = send_fds_as.with_fds(send_fds_as.to_system("Ping"), 1)
        refused = await bus.call(ping)
        # Submit takes one (its stream); two is one too many, whatever the request.
        submit, more_ends = send_fds_as.with_fds(
            send_fds_as.submit({"stream_fd": Variant("h", 0), "prompt": Variant("s", "hi")}), 2
        )
        too_many = await bus.call(submit)
    finally:
        bus.disconnect()
    for fd in pipe_ends + more_ends:
        os.close(fd)

    assert refused.message_type is MessageType.ERROR
    assert refused.error_name == "org.noos.Error.InvalidArgument"
    assert refused.body == ["Ping takes no file descriptors, not 1"]
    assert too_many.error_name == "org.noos.Error.InvalidArgument"
    assert too_many.body == ["Submit takes 1 file descriptor, not 2"]
    assert open_fds(noosd_scheduler) <= baseline + SLACK
