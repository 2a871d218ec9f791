"""The SDK of org.noos.Scheduler1 against `noosd scheduler` on a private bus, running SmolLM2."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TypedDict

import pytest
import pytest_asyncio
from dbus_fast import Variant

from noos import (
    Busy,
    ChatMessage,
    InvalidArgument,
    Job,
    JobFailed,
    JobInfo,
    NotFound,
    Scheduler,
    SyncJob,
    SyncScheduler,
    Unavailable,
)
from noos.bus import Connection
from noos.scheduler import Conversation, job_info_of, job_signals, request_of
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.scheduler import BROKEN_MODEL

NOBODY = 65534
MODEL = "smollm2"
# A raw prompt that SmolLM2 continues for hundreds of tokens: jobs to stop midway.
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
LONG_JOB = 512


class QuickOptions(TypedDict):
    max_tokens: int
    temperature: float


# Short answers, the same every run: the tests stay quick and exact.
QUICK = QuickOptions(max_tokens=16, temperature=0.0)


@pytest_asyncio.fixture
async def scheduler(
    scheduler_with_broken_model: NoosdProcess, connection: Connection
) -> AsyncIterator[Scheduler]:
    yield Scheduler(connection)


async def newest_job(scheduler: Scheduler) -> Job:
    """The job submitted last on the service (the tests submit one at a time)."""
    infos = await asyncio.gather(*(job.info() for job in await scheduler.jobs()))
    return scheduler.job(max(infos, key=lambda info: info.submitted_at).id)


# The request and replies as the bus carries them: no service needed.


def test_a_question_is_one_user_message() -> None:
    request = request_of("Why?", raw=False, options={"max_tokens": 8, "temperature": 0})
    assert request == {
        "messages": Variant("a(ss)", [["user", "Why?"]]),
        "max_tokens": Variant("i", 8),
        "temperature": Variant("d", 0.0),
    }


def test_a_conversation_may_mix_messages_pairs_and_dicts() -> None:
    conversation: Conversation = [
        ChatMessage("system", "Be brief."),
        ("user", "Hi"),
        {"role": "assistant", "content": "Hello"},
    ]
    request = request_of(conversation, raw=False, options={"model": MODEL, "seed": 7})
    assert request == {
        "messages": Variant(
            "a(ss)", [["system", "Be brief."], ["user", "Hi"], ["assistant", "Hello"]]
        ),
        "model": Variant("s", MODEL),
        "seed": Variant("x", 7),
    }


def test_a_raw_prompt_is_text() -> None:
    assert request_of("Once upon", raw=True, options={}) == {"prompt": Variant("s", "Once upon")}
    with pytest.raises(InvalidArgument):
        request_of([("user", "Hi")], raw=True, options={})


def test_an_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="tempreature"):
        request_of("Hi", raw=False, options={"tempreature": 0.5})  # type: ignore[typeddict-unknown-key]


def test_job_info_reads_the_timings_it_has() -> None:
    values = {
        "id": Variant("t", 3),
        "owner": Variant("u", 1000),
        "model": Variant("s", MODEL),
        "priority": Variant("s", "normal"),
        "state": Variant("s", "queued"),
        "text": Variant("s", ""),
        "tokens": Variant("u", 0),
        "prompt_tokens": Variant("u", 12),
        "max_tokens": Variant("u", 16),
        "submitted_at": Variant("d", 1.5e9),
        "queued_s": Variant("d", 0.25),
    }
    info = job_info_of(values)
    assert (info.id, info.owner, info.state, info.queued_s) == (3, 1000, "queued", 0.25)
    assert (info.time_to_first_token_s, info.tokens_per_s, info.reason) == (None, None, None)
    assert not info.ended


# Against the service.


async def test_streamed_pieces_join_to_the_text_of_the_job(scheduler: Scheduler) -> None:
    pieces = [piece async for piece in scheduler.stream("Name a colour.", **QUICK)]

    info = await (await newest_job(scheduler)).wait()
    assert len(pieces) > 1
    assert "".join(pieces) == info.text
    assert info.state == "done"
    assert 0 < info.tokens <= 16


async def test_ask_returns_the_answer(scheduler: Scheduler) -> None:
    answer = await scheduler.ask(
        [("system", "Answer in one word."), ("user", "What is the capital of France?")], **QUICK
    )
    assert "Paris" in answer


async def test_a_raw_prompt_is_continued(scheduler: Scheduler) -> None:
    answer = await scheduler.ask(COUNTING, raw=True, **QUICK)
    assert answer.lstrip().startswith("11")


async def test_a_job_tells_its_end_and_timings(scheduler: Scheduler) -> None:
    job = await scheduler.submit("Say hello.", model=MODEL, priority="interactive", **QUICK)

    info = await job.wait()

    assert info.state == "done"
    assert (info.owner, info.model, info.priority, info.max_tokens) == (0, MODEL, "interactive", 16)
    assert info.prompt_tokens > 0 and 0 < info.tokens <= 16
    assert info.queued_s is not None and info.time_to_first_token_s is not None
    assert info.tokens_per_s is not None and info.tokens_per_s > 0
    assert await job.info() == info


async def test_a_job_may_be_waited_for_from_another_connection(
    scheduler: Scheduler, bus_address: str
) -> None:
    job = await scheduler.submit(COUNTING, raw=True, **QUICK)
    async with await Scheduler.connect(bus_address) as elsewhere:
        info = await elsewhere.job((await job.info()).id).wait()
    assert info == await job.wait()


async def test_waiting_for_an_ended_job_returns_at_once(scheduler: Scheduler) -> None:
    ended = await (await scheduler.submit("Hi", **QUICK)).wait()
    async with asyncio.timeout(1):
        assert await scheduler.job(ended.id).wait() == ended


async def test_leaving_a_stream_cancels_its_job(scheduler: Scheduler) -> None:
    async with aclosing(scheduler.stream(COUNTING, raw=True, max_tokens=LONG_JOB)) as pieces:
        async for _ in pieces:
            break

    info = await (await newest_job(scheduler)).wait()
    assert info.state == "cancelled"
    assert info.tokens < LONG_JOB


async def test_a_stream_dropped_midway_cancels_its_job_when_collected(
    scheduler: Scheduler,
) -> None:
    async for _ in scheduler.stream(COUNTING, raw=True, max_tokens=LONG_JOB):
        break

    info = await (await newest_job(scheduler)).wait()
    assert info.state == "cancelled"


async def test_a_stream_of_a_job_cancelled_elsewhere_fails(scheduler: Scheduler) -> None:
    pieces = scheduler.stream(COUNTING, raw=True, max_tokens=LONG_JOB)
    first = await anext(pieces)
    await (await newest_job(scheduler)).cancel()

    with pytest.raises(JobFailed, match="cancelled") as raised:
        async for _ in pieces:
            pass
    assert raised.value.info.text.startswith(first)


async def test_cancelling_the_task_that_asks_cancels_the_job(scheduler: Scheduler) -> None:
    asking = asyncio.create_task(scheduler.ask(COUNTING, raw=True, max_tokens=LONG_JOB))
    job = await newest_job_once_running(scheduler)
    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking

    assert (await job.wait()).state == "cancelled"


async def newest_job_once_running(scheduler: Scheduler) -> Job:
    async with asyncio.timeout(30):
        while True:
            job = await newest_job(scheduler)
            if (await job.info()).state == "running":
                return job
            await asyncio.sleep(0.02)


async def test_ask_fails_when_its_job_is_cancelled_elsewhere(scheduler: Scheduler) -> None:
    asking = asyncio.create_task(scheduler.ask(COUNTING, raw=True, max_tokens=LONG_JOB))
    await (await newest_job_once_running(scheduler)).cancel()

    with pytest.raises(JobFailed, match=r"job \d+ cancelled") as raised:
        await asking
    assert raised.value.info.state == "cancelled"


async def test_a_model_that_cannot_load_is_refused(scheduler: Scheduler) -> None:
    with pytest.raises(Unavailable, match="cannot be loaded"):
        await scheduler.ask("Hi", model=BROKEN_MODEL, **QUICK)


async def test_signals_that_come_before_the_job_is_known_are_kept(
    scheduler: Scheduler,
) -> None:
    connection = scheduler.connection
    request = request_of(COUNTING, raw=True, options={"max_tokens": 16, "temperature": 0.0})

    async def slow_submit() -> str:
        # The reply is read at once, but the path it names is known only
        # after the job's first signals: as if they had overtaken the reply.
        path = str((await scheduler._call("Submit", "a{sv}", request))[0])
        await asyncio.sleep(2)
        return path

    path, events = await job_signals(connection).submit(connection, slow_submit(), True)

    assert events.pieces is not None
    assert events.pieces.qsize() > 0  # signals that came during the sleep
    async with asyncio.timeout(30):
        info = await events.finished
    pieces = []
    while (piece := events.pieces.get_nowait()) is not None:
        pieces.append(piece)
    assert "".join(pieces) == info.text
    assert path == f"/org/noos/Scheduler1/jobs/{info.id}"


async def test_waits_and_streams_hold_no_call_in_flight(
    scheduler_with_broken_model: NoosdProcess, bus_address: str
) -> None:
    # One call at a time on this connection: a stream or a wait that held its
    # call open would leave none for anything else until its job ended.
    async with await Connection.open(bus_address, max_in_flight=1) as connection:
        scheduler = Scheduler(connection)
        async with aclosing(scheduler.stream(COUNTING, raw=True, max_tokens=LONG_JOB)) as pieces:
            await anext(pieces)
            # Queued behind the stream's job, which has the model's one slot.
            queued = await scheduler.submit(COUNTING, raw=True, max_tokens=LONG_JOB)
            waiting = asyncio.create_task(queued.wait())
            async with asyncio.timeout(5):
                assert MODEL in [model.name for model in await scheduler.models()]
                assert (await queued.info()).state == "queued"
            await queued.cancel()
            assert (await waiting).state == "cancelled"


async def test_a_full_queue_is_busy_with_a_retry_hint(scheduler: Scheduler) -> None:
    submitted: list[Job] = []
    try:
        with pytest.raises(Busy) as raised:
            for _ in range(100):
                submitted.append(await scheduler.submit(COUNTING, raw=True, max_tokens=LONG_JOB))
        assert raised.value.retry_after > 0
        assert len(submitted) >= 2
    finally:
        await asyncio.gather(*(job.cancel() for job in submitted))
    ends = await asyncio.gather(*(job.wait() for job in submitted))
    assert {info.state for info in ends} <= {"cancelled", "done"}


async def test_an_unknown_model_is_not_found(scheduler: Scheduler) -> None:
    with pytest.raises(NotFound, match="nope"):
        await scheduler.submit("Hi", model="nope", **QUICK)
    with pytest.raises(NotFound):
        await scheduler.load("nope")


@pytest.mark.parametrize(
    "options",
    [{"max_tokens": -1}, {"max_tokens": 0}, {"priority": "urgent"}, {"temperature": -1.0}],
)
async def test_bad_options_are_invalid(
    scheduler: Scheduler, options: dict[str, int | float | str]
) -> None:
    with pytest.raises(InvalidArgument):
        await scheduler.submit("Hi", **options)  # type: ignore[arg-type]


async def test_an_unknown_job_is_not_found(scheduler: Scheduler) -> None:
    with pytest.raises(NotFound):
        await scheduler.job(999_999).info()
    with pytest.raises(NotFound):
        await scheduler.job(999_999).wait()


async def test_models_and_status(scheduler: Scheduler) -> None:
    models = {model.name: model for model in await scheduler.models()}
    assert set(models) == {MODEL, BROKEN_MODEL, "gemma"}
    model, broken = models[MODEL], models[BROKEN_MODEL]
    assert broken.default is False
    assert (model.name, model.backend, model.context_length) == (MODEL, "llama-cpp", 2048)
    assert (model.ram_bytes, model.vram_bytes, model.default, model.pinned) == (
        250_000_000,
        0,
        True,
        False,
    )
    assert model.state in ("on-disk", "loading", "resident", "busy")
    assert (model.priority, model.slots) == ("normal", 1)
    status = await scheduler.status()
    assert status.thread_budget >= 1 and status.ram_budget > 0
    assert status.queued >= 0 and status.running >= 0


async def test_root_loads_and_unloads_a_model(scheduler: Scheduler) -> None:
    await scheduler.unload(MODEL)
    await until_state(scheduler, "on-disk")
    await scheduler.load(MODEL)
    await until_state(scheduler, "resident")
    assert MODEL in (await scheduler.status()).resident


async def until_state(scheduler: Scheduler, state: str) -> None:
    async with asyncio.timeout(30):
        while True:
            if next(m for m in await scheduler.models() if m.name == MODEL).state == state:
                return
            await asyncio.sleep(0.05)


# Another user, as uid NOBODY: the modules load as root first (see
# tests/fixtures/whoami_as.py), then the process becomes NOBODY.
AS_ANOTHER_USER = """
import asyncio, json, os, sys
from noos import NoosError, Scheduler

async def outcome(call):
    try:
        await call
    except NoosError as error:
        return error.dbus_name
    return "allowed"

async def act(address, job_id):
    async with await Scheduler.connect(address) as scheduler:
        job = scheduler.job(job_id)
        return {
            "own_answer": await scheduler.ask("Hi", max_tokens=4, temperature=0.0),
            "listed": [job.path for job in await scheduler.jobs()],
            "info": await outcome(job.info()),
            "wait": await outcome(job.wait()),
            "cancel": await outcome(job.cancel()),
            "load": await outcome(scheduler.load("smollm2")),
        }

uid, address, job_id = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
print(json.dumps(asyncio.run(act(address, job_id))), flush=True)
"""


async def test_another_user_can_neither_read_nor_cancel_a_job(
    scheduler: Scheduler, bus_address: str
) -> None:
    mine = await (await scheduler.submit(COUNTING, raw=True, **QUICK)).wait()

    other_user = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AS_ANOTHER_USER,
        str(NOBODY),
        bus_address,
        str(mine.id),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=60)
    assert other_user.returncode == 0
    nobody = json.loads(stdout)

    # To another user, my job is as absent as one that never was.
    absent = "org.noos.Error.NotFound"
    assert (nobody["info"], nobody["wait"], nobody["cancel"]) == (absent, absent, absent)
    assert nobody["load"] == "org.noos.Error.PermissionDenied"
    assert f"/org/noos/Scheduler1/jobs/{mine.id}" not in nobody["listed"]
    assert len(nobody["listed"]) == 1 and nobody["own_answer"]
    # Root sees everyone's jobs, and its own job is untouched.
    assert nobody["listed"][0] in [job.path for job in await scheduler.jobs()]
    assert await scheduler.job(mine.id).info() == mine


# The blocking client.


def test_the_blocking_client_asks_streams_and_waits(
    scheduler_with_broken_model: NoosdProcess, bus_address: str
) -> None:
    with SyncScheduler(bus_address) as scheduler:
        assert scheduler.ask("Name a fruit.", **QUICK)
        pieces = list(scheduler.stream("Name a fruit.", **QUICK))
        streamed = newest_sync_job(scheduler).wait()
        assert "".join(pieces) == streamed.text
        job = scheduler.submit("Name a fruit.", **QUICK)
        info: JobInfo = job.wait()
        assert info.state == "done" and job.info() == info
        assert job.path in [listed.path for listed in scheduler.jobs()]
        assert MODEL in [model.name for model in scheduler.models()]


def newest_sync_job(scheduler: SyncScheduler) -> SyncJob:
    return max(scheduler.jobs(), key=lambda job: job.info().submitted_at)


def test_leaving_a_blocking_stream_cancels_its_job(
    scheduler_with_broken_model: NoosdProcess, bus_address: str
) -> None:
    with SyncScheduler(bus_address) as scheduler:
        for _ in scheduler.stream(COUNTING, raw=True, max_tokens=LONG_JOB):
            break
        assert newest_sync_job(scheduler).wait().state == "cancelled"


def test_the_bus_address_may_come_from_the_environment(
    scheduler_with_broken_model: NoosdProcess, bus_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_BUS_ADDRESS", bus_address)
    with SyncScheduler() as scheduler:
        assert scheduler.status().thread_budget >= 1
