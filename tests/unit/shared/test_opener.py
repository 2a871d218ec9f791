"""The background opener: a slow thing opened on a worker, waited for by its users."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from noos.protocol.errors import Unavailable
from noosd.shared.opener import BackgroundOpener


class Gate:
    """An opening that waits for the test to let it finish."""

    def __init__(self, fails: bool = False) -> None:
        self.release = threading.Event()
        self.thread = ""
        self.fails = fails

    def open(self) -> str:
        self.thread = threading.current_thread().name
        assert self.release.wait(5)
        if self.fails:
            raise OSError("disk on fire")
        return "store"


def test_users_wait_for_the_opening_on_its_own_thread() -> None:
    gate = Gate()
    opener = BackgroundOpener("the store", gate.open)
    opener.start_thread("store-open")

    assert not opener.is_open and opener.now() is None
    gate.release.set()

    assert opener.result() == "store"
    assert opener.is_open and opener.now() == "store"
    assert gate.thread.startswith("store-open")


def test_an_opening_on_an_executor_runs_before_the_calls_queued_behind_it() -> None:
    gate = Gate()
    opener = BackgroundOpener("the store", gate.open)
    with ThreadPoolExecutor(max_workers=1) as worker:
        opener.start_on(worker)
        call = worker.submit(opener.now)
        gate.release.set()
        assert call.result() == "store"


def test_a_failed_opening_makes_every_use_unavailable_with_why() -> None:
    gate = Gate(fails=True)
    gate.release.set()
    opener = BackgroundOpener("the store", gate.open)
    opener.start_thread("store-open")

    with pytest.raises(Unavailable, match="the store could not be opened: disk on fire"):
        opener.result()
    assert not opener.is_open and opener.now() is None


def test_a_thing_never_opened_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="the store is not being opened"):
        BackgroundOpener("the store", lambda: "store").result()


async def test_the_event_loop_awaits_the_opening_without_blocking() -> None:
    gate = Gate()
    opener = BackgroundOpener("the store", gate.open)
    opener.start_thread("store-open")

    waiting = asyncio.ensure_future(opener.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gate.release.set()

    assert await waiting == "store"


async def test_a_caller_that_gives_up_leaves_the_opening_going() -> None:
    gate = Gate()
    opener = BackgroundOpener("the store", gate.open)
    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(gate.release.wait, 5)  # the opening waits in the queue
        opener.start_on(worker)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(opener.wait(), 0.01)
        gate.release.set()
        assert await opener.wait() == "store"


async def test_a_failed_opening_is_unavailable_on_the_event_loop() -> None:
    gate = Gate(fails=True)
    gate.release.set()
    opener = BackgroundOpener("the store", gate.open)
    opener.start_thread("store-open")

    with pytest.raises(Unavailable, match="could not be opened: disk on fire"):
        await opener.wait()
