"""Turns at a worker go round the uids waiting, not to the first to queue many."""

from __future__ import annotations

import asyncio

import pytest

from noos.protocol import errors
from noosd.runtime.gate import Caller, CallGate
from noosd.runtime.turns import FairTurns


async def test_a_uid_with_a_backlog_does_not_delay_another_uids_call() -> None:
    gate = CallGate(limit=64, wait_limit=64)
    turns = FairTurns()
    served: list[str] = []
    hold = asyncio.Event()

    async def call(uid: int, name: str) -> None:
        with gate.admit(Caller(uid, f":1.{name}")):
            async with turns.turn():
                if name == "first":
                    await hold.wait()
                served.append(name)

    first = asyncio.create_task(call(1000, "first"))
    await asyncio.sleep(0)
    backlog = [asyncio.create_task(call(1000, f"backlog {n}")) for n in range(5)]
    await asyncio.sleep(0)
    other = asyncio.create_task(call(1001, "other"))
    await asyncio.sleep(0)

    assert turns.queued == 6
    # Queued, they hold wait slots; only the call with the turn holds a work slot.
    assert (gate.work.total, gate.waits.total) == (1, 6)
    hold.set()
    await asyncio.gather(first, *backlog, other)
    assert served == ["first", "backlog 0", "other", *(f"backlog {n}" for n in range(1, 5))]
    assert (turns.queued, gate.in_flight) == (0, 0)


async def test_a_call_cancelled_or_refused_while_queued_gives_up_its_place() -> None:
    gate = CallGate(limit=8, wait_limit=2)
    turns = FairTurns()
    hold = asyncio.Event()

    async def call(uid: int) -> None:
        with gate.admit(Caller(uid, f":1.{uid}")):
            async with turns.turn():
                await hold.wait()

    running = asyncio.create_task(call(1000))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(call(1001))
    await asyncio.sleep(0)
    cancelled.cancel()
    # The uid's share of 2 wait slots is 1: its second queued call is Busy.
    queued = asyncio.create_task(call(1002))
    await asyncio.sleep(0)
    with pytest.raises(errors.Busy):
        await call(1002)

    hold.set()
    await asyncio.gather(running, queued)
    assert cancelled.cancelled()
    assert (turns.queued, gate.in_flight) == (0, 0)
