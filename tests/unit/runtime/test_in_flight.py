"""The bound on work in flight and each caller's share of it: past it calls fail
fast with Busy; the service recovers."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from noos.bus import Connection
from noos.protocol import errors
from noosd.runtime import ServiceHost
from noosd.runtime.gate import Caller, CallGate, waiting
from tests.fixtures.probe import PROBE_MAX_IN_FLIGHT, PROBE_NAME, PROBE_PATH, ProbeService

# Long enough that every call has arrived before the first admitted one ends,
# on a loaded machine too.
LONG_CALL_S = 1.0


async def sleep(connection: Connection, seconds: float) -> bool:
    reply = await connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, "Sleep", "d", [seconds])
    return bool(reply[0])


async def test_calls_past_the_callers_share_are_busy_then_the_service_recovers(
    probe: ServiceHost, connection: Connection
) -> None:
    # One connection of one uid: half of its uid's half of the bound.
    share = PROBE_MAX_IN_FLIGHT // 4
    calls = PROBE_MAX_IN_FLIGHT + 3
    results = await asyncio.gather(
        *(sleep(connection, LONG_CALL_S) for _ in range(calls)), return_exceptions=True
    )

    busy = [result for result in results if isinstance(result, errors.Busy)]
    assert results.count(True) == share
    assert len(busy) == calls - share
    assert busy[0].retry_after > 0
    assert f"this connection has {share} calls in flight, its share" in busy[0].message
    assert probe.gate.in_flight == 0
    assert await sleep(connection, 0)


async def test_a_uids_other_connection_gets_what_the_first_leaves_it(
    probe: ServiceHost, connection: Connection, bus_address: str
) -> None:
    async with await Connection.open(bus_address) as other:
        results = await asyncio.gather(
            *(
                sleep(c, LONG_CALL_S)
                for c in (connection, other)
                for _ in range(PROBE_MAX_IN_FLIGHT)
            ),
            return_exceptions=True,
        )

    # Together, the uid's half of the bound; the other half stays for other uids.
    assert results.count(True) == PROBE_MAX_IN_FLIGHT // 2
    busy = [result for result in results if isinstance(result, errors.Busy)]
    assert len(busy) == len(results) - PROBE_MAX_IN_FLIGHT // 2


def test_each_uid_gets_half_of_what_the_others_leave_until_the_bound() -> None:
    gate = CallGate(8)
    with contextlib.ExitStack() as held:
        admitted: dict[int, int] = {}
        refusals: dict[int, str] = {}
        for uid in (1000, 1001, 1002, 1003):
            admitted[uid] = 0
            # A connection each per call: only the uid's share counts here.
            for n in range(8):
                try:
                    held.enter_context(gate.admit(Caller(uid, f":1.{uid}.{n}")))
                except errors.Busy as refused:
                    refusals[uid] = refused.message
                    break
                admitted[uid] += 1

        assert admitted == {1000: 4, 1001: 2, 1002: 1, 1003: 1}
        assert refusals[1000].startswith("uid 1000 has 4 calls in flight, its share")
        assert refusals[1003].startswith("the service has 8 calls in flight, its limit")
        with pytest.raises(errors.Busy, match="the service has 8 calls in flight, its limit"):
            held.enter_context(gate.admit(Caller(1004, ":1.1")))
    assert gate.in_flight == 0
    assert gate.held_by(Caller(1000, ":1.1000.0")) == (0, 0)


async def test_a_waiting_call_holds_a_wait_slot_not_a_work_slot() -> None:
    gate = CallGate(limit=4, wait_limit=8)
    caller = Caller(1000, ":1.1")
    released = asyncio.Event()

    async def wait_in_a_call() -> None:
        with gate.admit(caller), waiting():
            await released.wait()

    # The uid's share of waits, on one connection: half of half of 8.
    waiters = [asyncio.create_task(wait_in_a_call()) for _ in range(3)]
    await asyncio.sleep(0)
    refused = await asyncio.gather(waiters[2], return_exceptions=True)

    assert isinstance(refused[0], errors.Busy)
    assert "this connection has 2 calls waiting, its share" in refused[0].message
    assert (gate.work.total, gate.waits.total) == (0, 2)
    # Its work share is untouched by its waits: the uid's 2 of 4, on two connections.
    with gate.admit(caller), gate.admit(Caller(1000, ":1.2")):
        assert gate.held_by(caller) == (2, 1)
    released.set()
    await asyncio.gather(*waiters[:2])
    assert (gate.work.total, gate.waits.total, gate.in_flight) == (0, 0, 0)


def test_waiting_outside_a_call_or_after_it_ended_counts_nothing() -> None:
    gate = CallGate(limit=4, wait_limit=8)
    with waiting():
        pass
    with gate.admit(Caller(1000, ":1.1")), waiting():
        assert (gate.work.total, gate.waits.total) == (0, 1)
        with waiting():  # nested: still one wait slot
            assert gate.waits.total == 1
    assert (gate.work.total, gate.waits.total) == (0, 0)


def test_a_closed_gate_admits_no_one() -> None:
    gate = CallGate(8)
    gate.close()
    with pytest.raises(errors.Unavailable), gate.admit(Caller(0, ":1.1")):
        pass


async def test_plain_methods_finish_before_the_next_call_so_never_fill_the_bound(
    probe: ServiceHost, connection: Connection
) -> None:
    echoes = await asyncio.gather(
        *(
            connection.call(PROBE_NAME, PROBE_PATH, PROBE_NAME, "Echo", "s", [str(n)])
            for n in range(200)
        )
    )
    assert echoes == [[str(n)] for n in range(200)]


async def test_stopping_waits_for_the_calls_in_flight(
    probe: ServiceHost, connection: Connection
) -> None:
    service = probe.service
    assert isinstance(service, ProbeService)
    slow_call = asyncio.create_task(sleep(connection, 0.3))
    await service.probe.sleeping.wait()

    await probe.stop()

    assert service.probe.finished_sleeps == 1
    assert service.stopped
    assert await slow_call


async def test_a_connection_back_before_its_retry_after_is_refused_only_then(
    probe: ServiceHost, connection: Connection
) -> None:
    # A flood that sends each refused call again at once would spend the
    # service's CPU on refusals: the second refusal waits for the first's hint.
    share = PROBE_MAX_IN_FLIGHT // 4
    holding = [asyncio.ensure_future(sleep(connection, 3 * LONG_CALL_S)) for _ in range(share)]
    while probe.gate.in_flight < share:  # noqa: ASYNC110 - the gate has no event to wait on
        await asyncio.sleep(0.01)
    loop = asyncio.get_running_loop()

    with pytest.raises(errors.Busy) as first:
        await sleep(connection, 0)
    told = loop.time()
    with pytest.raises(errors.Busy):
        await sleep(connection, 0)
    held = loop.time() - told

    assert held >= first.value.retry_after * 0.9
    assert await asyncio.gather(*holding) == [True] * share
    assert probe.gate.in_flight == 0
