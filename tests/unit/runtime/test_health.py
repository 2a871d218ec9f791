"""Work loops as the watchdog sees them: busy, silent, stuck, and the pings that stop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from noosd.runtime.health import WorkLoop, beat, stuck
from noosd.runtime.notify import Notifier


def test_an_idle_loop_is_never_stuck() -> None:
    loop = WorkLoop("idle", stuck_after_s=1.0)
    state = loop.state()
    assert not state.busy and not state.stuck and state.completed == 0 and state.last_done == 0


def spin(seconds: float) -> None:
    """Use `seconds` of this thread's CPU time."""
    clock = time.pthread_getcpuclockid(threading.get_ident())
    end = time.clock_gettime(clock) + seconds
    while time.clock_gettime(clock) < end:
        pass


def test_an_item_that_spins_past_its_limit_is_stuck_and_a_beat_revives_it() -> None:
    loop = WorkLoop("crawl", stuck_after_s=0.2, waiting=lambda: 3)
    with loop.working():
        began = loop.state()
        assert began.busy and not began.stuck and began.waiting == 3
        spin(0.25)
        spun = loop.state()
        assert spun.stuck and spun.silent_s > 0.2 and "busy" in spun.describe()
        beat()  # the module's beat reaches the loop this thread works for
        assert not loop.state().stuck
    done = loop.state()
    assert not done.busy and not done.stuck and done.completed == 1 and done.last_done > 0


def test_an_item_waiting_without_cpu_is_starved_not_stuck_until_its_wall_limit() -> None:
    loop = WorkLoop("crawl", stuck_after_s=0.05, blocked_after_s=60)
    with loop.working():
        time.sleep(0.2)  # no CPU used: a nice-19 thread that got none
        assert not loop.state().stuck
        assert loop.state(now=time.monotonic() + 61).stuck  # a deadlock, by wall time


def test_a_beat_outside_any_loop_does_nothing() -> None:
    beat()


def test_items_on_several_threads_the_one_that_spins_decides() -> None:
    loop = WorkLoop("generate", stuck_after_s=0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with loop.working():
            spin(0.25)
            holding.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait()
    with loop.working():
        beat()  # this thread's item beats; the other thread's spun without one
        assert loop.state().stuck
    release.set()
    thread.join()
    assert loop.state().completed == 2
    assert stuck([loop]) == []


def test_a_nested_loop_gives_the_beat_back_to_the_outer_one() -> None:
    outer, inner = WorkLoop("outer", stuck_after_s=0.2), WorkLoop("inner")
    with outer.working():
        spin(0.25)
        with inner.working():
            pass
        beat()
        assert not outer.state().stuck


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A socket standing in for systemd's, with a watchdog of 0.2 s asked for."""
    path = tmp_path / "notify"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    yield receiver
    receiver.close()


def _wait_until_stuck(loop: WorkLoop, receiver: socket.socket) -> None:
    """Wait, reading the pings meanwhile: a full socket (10 datagrams) would
    block the event loop's next ping, and so the test, on a loaded machine."""
    while not stuck([loop]):
        _received(receiver)
        time.sleep(0.05)


def _received(receiver: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(receiver.recv(4096).decode())
        except BlockingIOError:
            return messages


async def test_the_watchdog_is_not_pinged_while_a_loop_is_stuck(
    notify_socket: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    loop = WorkLoop("index-crawler", stuck_after_s=0.3)
    notifier = Notifier()
    notifier.start_watchdog(lambda: [loop])
    await asyncio.sleep(0.35)
    assert "WATCHDOG=1" in _received(notify_socket)
    release = threading.Event()
    worker = threading.Thread(target=lambda: loop.run(lambda: (spin(0.4), release.wait())))
    worker.start()
    try:
        # Stuck after 0.3 s of CPU, however long a loaded machine takes to give it.
        await asyncio.to_thread(lambda: _wait_until_stuck(loop, notify_socket))
        await asyncio.sleep(0.3)  # the check after it has seen the loop stuck
        _received(notify_socket)
        with caplog.at_level(logging.ERROR):
            await asyncio.sleep(0.5)
        assert "WATCHDOG=1" not in _received(notify_socket)
    finally:
        release.set()
        worker.join()
    await asyncio.sleep(0.35)  # done: pinged again
    assert "WATCHDOG=1" in _received(notify_socket)
    notifier.stop_watchdog()


async def test_a_stuck_loop_is_said_once_in_the_journal_and_in_the_status(
    notify_socket: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    loop = WorkLoop("memory-store", stuck_after_s=0.1)
    notifier = Notifier()
    release = threading.Event()
    worker = threading.Thread(target=lambda: loop.run(lambda: (spin(0.15), release.wait())))
    worker.start()
    try:
        with caplog.at_level(logging.ERROR):
            await asyncio.sleep(0.2)
            notifier.start_watchdog(lambda: [loop])
            await asyncio.sleep(0.6)
    finally:
        release.set()
        worker.join()
        notifier.stop_watchdog()
    said = [record.getMessage() for record in caplog.records if "stuck" in record.getMessage()]
    assert len(said) == 1 and "memory-store: busy" in said[0] and "watchdog" in said[0]
    assert any("STATUS=stuck: memory-store" in message for message in _received(notify_socket))
