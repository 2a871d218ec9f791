"""org.noos.Scheduler1 on a private dbus-daemon, with the real SmolLM2 and Gemma
models, llama.cpp, and a real llama_cpp.server for the remote backend.

The client here speaks raw D-Bus (as busctl or gdbus would): the SDK has tests
of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from noos import Scheduler
from noos.bus import Connection
from noos.protocol.errors import Busy, InvalidArgument, NotFound, Unavailable
from noos.protocol.scheduler import REQUEST
from tests.fixtures.listener import listening_as_nobody
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import running_scheduler, start_scheduler, write_catalog

NAME = "org.noos.Scheduler1"
PATH = "/org/noos/Scheduler1"
JOB = "org.noos.Scheduler1.Job"
NOBODY = 65534
HERE = Path(__file__).parent
SYSTEM = "You are a helpful assistant. Answer in one short sentence."


class Client:
    """Submits jobs over raw D-Bus and collects the signals the service sends it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.tokens: dict[str, list[str]] = {}
        self.finished: dict[str, dict[str, Any]] = {}
        self._ended: dict[str, asyncio.Event] = {}
        connection.bus.add_message_handler(self._on_message)

    def _on_message(self, message: Message) -> None:
        if message.message_type is not MessageType.SIGNAL or message.interface != JOB:
            return
        path = message.path or ""
        if message.member == "Token":
            self.tokens.setdefault(path, []).append(message.body[0])
        elif message.member == "Finished":
            self.finished[path] = {k: v.value for k, v in message.body[0].items()}
            self._ended.setdefault(path, asyncio.Event()).set()

    async def submit(self, **request: Any) -> str:
        body = {key: _variant(key, value) for key, value in request.items()}
        (path,) = await self.connection.call(NAME, PATH, NAME, "Submit", "a{sv}", [body])
        return str(path)

    async def ask(self, question: str, **request: Any) -> str:
        request.setdefault("messages", [["system", SYSTEM], ["user", question]])
        return await self.submit(**request)

    async def info(self, job: str) -> dict[str, Any]:
        (info,) = await self.connection.call(NAME, job, JOB, "Info")
        return {k: v.value for k, v in info.items()}

    async def wait(self, job: str) -> dict[str, Any]:
        (info,) = await self.connection.call(NAME, job, JOB, "Wait")
        return {k: v.value for k, v in info.items()}

    async def cancel(self, job: str) -> None:
        await self.connection.call(NAME, job, JOB, "Cancel")

    async def finished_signal(self, job: str) -> dict[str, Any]:
        await asyncio.wait_for(self._ended.setdefault(job, asyncio.Event()).wait(), 60)
        return self.finished[job]

    async def until(self, job: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The job's info, once `predicate` holds of it."""
        return await eventually(lambda: self.info(job), predicate)

    async def property(self, name: str) -> Any:
        return await self.connection.get_property(NAME, PATH, NAME, name)


T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], holds: Callable[[T], bool], within: float = 60
) -> T:
    """Poll `probe` until `holds` of what it gives; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if holds(value := await probe()):
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true within {within} s: {value!r}")


async def _files(directory: Path, pattern: str) -> list[Path]:
    return await asyncio.to_thread(lambda: list(directory.glob(pattern)))


def _variant(key: str, value: Any) -> Variant:
    return Variant(REQUEST[key].signature, value)


@pytest.fixture(scope="module")
def scheduler_service(
    bus_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NoosdProcess]:
    state = tmp_path_factory.mktemp("scheduler")
    # One thread: an interactive job must preempt a batch one to run at all.
    with running_scheduler(bus_address, state, cpu_threads="1") as process:
        yield process


@pytest_asyncio.fixture
async def client(scheduler_service: NoosdProcess, bus_address: str) -> AsyncIterator[Client]:
    async with await Connection.open(bus_address) as connection:
        yield Client(connection)


async def test_tokens_stream_as_signals_and_wait_returns_the_whole_answer(client: Client) -> None:
    job = await client.ask("What is the capital of France?", max_tokens=24, temperature=0.0)

    finished = await client.finished_signal(job)
    info = await client.wait(job)

    assert info["state"] == "done"
    assert info["text"].strip()
    assert "".join(client.tokens[job]) == info["text"] == finished["text"]
    assert 0 < info["tokens"] <= 24
    assert info["time_to_first_token_s"] > 0
    assert info["model"] == "smollm2"
    (jobs,) = await client.connection.call(NAME, PATH, NAME, "Jobs")
    assert job in jobs


async def test_an_interactive_job_preempts_a_batch_job_which_resumes_to_the_same_answer(
    client: Client,
) -> None:
    story = {
        "messages": [["user", "Write a long story about a lighthouse keeper."]],
        "max_tokens": 80,
        "temperature": 0.0,
    }
    alone = await client.wait(await client.submit(**story, priority="batch"))

    batch = await client.submit(**story, priority="batch")
    await client.until(batch, lambda info: info["tokens"] >= 10)
    urgent = await client.ask("Say hello.", priority="interactive", max_tokens=8, temperature=0.0)
    preempted = await client.info(batch)
    urgent_done = await client.wait(urgent)
    resumed = await client.wait(batch)

    assert urgent_done["state"] == "done"
    assert preempted["state"] in ("preempted", "running")
    assert resumed["state"] == "done"
    assert resumed["text"] == alone["text"]
    # The batch job waited while the interactive one ran: it was paused, not restarted.
    assert resumed["tokens"] == alone["tokens"]


async def test_cancel_stops_a_running_job_and_says_so(client: Client) -> None:
    job = await client.ask("Count from one to a thousand.", max_tokens=400)
    await client.until(job, lambda info: info["tokens"] >= 2)

    await client.cancel(job)
    info = await client.wait(job)

    assert info["state"] == "cancelled"
    assert info["tokens"] < 400
    assert (await client.finished_signal(job))["state"] == "cancelled"


async def test_a_raw_prompt_runs_on_the_base_model(client: Client) -> None:
    job = await client.submit(prompt="The capital of France is", model="gemma", max_tokens=8)
    info = await client.wait(job)
    assert info["state"] == "done"
    assert info["text"]
    assert "gemma" in await client.property("Resident")


async def test_a_pipe_passed_with_the_job_receives_the_text(
    scheduler_service: NoosdProcess, bus_address: str
) -> None:
    bus = await MessageBus(bus_address=bus_address, negotiate_unix_fd=True).connect()
    read_end, write_end = os.pipe()
    try:
        request = {
            "messages": Variant("a(ss)", [["user", "Name a colour."]]),
            "max_tokens": Variant("i", 12),
            "stream_fd": Variant("h", 0),  # the first of the fds sent with the call
        }
        submit = Message(
            destination=NAME,
            path=PATH,
            interface=NAME,
            member="Submit",
            signature="a{sv}",
            body=[request],
            unix_fds=[write_end],
        )
        reply = await bus.call(submit)
        assert reply.message_type is MessageType.METHOD_RETURN, reply.body
        os.close(write_end)
        info = await Client(Connection(bus, bus_address)).wait(reply.body[0])
        streamed = await asyncio.to_thread(_read_all, read_end)
    finally:
        os.close(read_end)
        bus.disconnect()
    assert streamed.decode() == info["text"]


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


async def test_a_pipe_without_fd_passing_is_refused(client: Client) -> None:
    with pytest.raises(InvalidArgument, match="stream_fd"):
        await client.ask("Hi.", max_tokens=2, stream_fd=7)


@pytest.mark.parametrize(
    ("request_", "error", "says"),
    [
        ({"messages": [["user", "hi"]], "model": "nope"}, NotFound, "nope"),
        ({"messages": []}, InvalidArgument, "messages"),
        ({"messages": [["user", "  "]]}, InvalidArgument, "empty"),
        ({"messages": [["wizard", "hi"]]}, InvalidArgument, "role"),
        ({"prompt": "hi", "max_tokens": -5}, InvalidArgument, "max_tokens"),
        ({"prompt": "hi", "priority": "urgent"}, InvalidArgument, "priority"),
        ({"prompt": "hi", "temperature": -1.0}, InvalidArgument, "temperature"),
        ({"prompt": "hi", "colour": "red"}, InvalidArgument, "colour"),
        ({"prompt": "word " * 200_000}, InvalidArgument, "context"),
    ],
)
async def test_bad_requests_get_clear_errors_and_the_service_stays_up(
    client: Client, request_: dict[str, Any], error: type[Exception], says: str
) -> None:
    if "colour" in request_:
        body = {"prompt": Variant("s", "hi"), "colour": Variant("s", "red")}
        with pytest.raises(error, match=says):
            await client.connection.call(NAME, PATH, NAME, "Submit", "a{sv}", [body])
    else:
        with pytest.raises(error, match=says):
            await client.submit(**request_)
    job = await client.submit(prompt="One, two,", max_tokens=2)
    assert (await client.wait(job))["state"] == "done"


async def test_a_huge_prompt_is_refused_by_its_size_before_it_is_tokenized(
    client: Client,
) -> None:
    # Tokenizing runs on one thread for everyone: a prompt of megabytes would
    # hold it from every other user's jobs before the context check refused it.
    # The catalog's longest context is 2048 tokens: 16 KiB at 8 bytes a token.
    with pytest.raises(InvalidArgument, match="the prompt is 4194304 bytes; the most is 16384"):
        await client.submit(prompt="word" * (1 << 20))
    with pytest.raises(InvalidArgument, match="the most is 16384"):
        await client.ask("é" * 9000)
    job = await client.submit(prompt="One, two,", max_tokens=2)
    assert (await client.wait(job))["state"] == "done"


async def test_another_user_can_neither_read_nor_cancel_a_job_nor_tell_it_exists(
    client: Client, bus_address: str
) -> None:
    job = await client.ask("Hello?", max_tokens=4)
    await client.wait(job)
    # Random, not the next number: no id tells another user one to try.
    second = await client.submit(prompt="One, two,", max_tokens=1)
    ids = [int(path.rsplit("/", 1)[1]) for path in (job, second)]
    assert abs(ids[1] - ids[0]) > 2**16, ids  # 1 in 2**47 of failing by chance

    command = [sys.executable, str(HERE / "job_as.py"), str(NOBODY), bus_address, job]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.split())
    assert lines["info"] == "NotFound"
    assert lines["cancel"] == "NotFound"
    assert lines["load"] == "PermissionDenied"
    assert lines["sees_job"] == "no"
    assert lines["own_job"] == "done"
    assert (await client.info(job))["state"] == "done"
    # My job and one that never was answer alike, whatever is asked of them.
    for asked in (
        "info",
        "wait",
        "watch",
        "introspect",
        "properties",
        "ping",
        "unknown",
        "badargs",
    ):
        assert lines[f"job_{asked}"] == lines[f"missing_{asked}"], asked
        assert lines[f"job_{asked}"] == "org.noos.Error.NotFound:there_is_no_such_job", asked
    assert lines["managed_lists_jobs"] == "no"
    assert lines["introspect_lists_jobs"] == "no"


async def test_another_user_hears_nothing_of_my_jobs(client: Client, bus_address: str) -> None:
    # The attack: a monitor that matches every signal of the scheduler, and
    # watches its status as a client would, hears of every job (InterfacesAdded
    # and InterfacesRemoved of its object, the counts in PropertiesChanged).
    async with listening_as_nobody(bus_address, NAME, PATH, NAME, "WatchStatus") as listener:
        job = await client.ask("Hello again?", max_tokens=4)
        await client.wait(job)
        # My own watch hears of my jobs: there was something to hear.
        async with Scheduler(client.connection).watch() as changes:
            other = await client.submit(prompt="Three, four,", max_tokens=1)
            change = await asyncio.wait_for(anext(changes), 60)
            await client.wait(other)
    heard = listener.report["heard"]

    assert (change.queued, change.running) != (None, None), change

    for path, interface, member, body in heard:
        assert not path.startswith(f"{PATH}/jobs"), (path, member)
        assert interface != "org.freedesktop.DBus.ObjectManager", (member, body)
        assert "Queued" not in body or "Variant('u', 0)" in body, body
        assert "'busy'" not in body, body


async def test_another_user_gets_nothing_from_my_saved_conversation(
    client: Client, bus_address: str
) -> None:
    # The attack: a saved state's prefix hit (cached_tokens, in 64-token
    # blocks) would tell another user how much of their guess of my prompt
    # and answer is right.
    secret = "The vault code of the lighthouse keeper is 4711, and it is never said. " * 6
    first = [["system", SYSTEM + " " + secret], ["user", "What is the code?"]]
    done = await client.wait(await client.submit(messages=first, max_tokens=8, temperature=0.0))
    conversation = [*first, ["assistant", done["text"]], ["user", "Again?"]]

    guess = await _as_nobody(bus_address, [{"messages": conversation}])

    assert guess["0.state"] == "done"
    assert guess["0.cached_tokens"] == "0"
    # The same conversation is a hit for me: the state was there to leak.
    mine = await client.wait(
        await client.submit(messages=conversation, max_tokens=2, temperature=0.0)
    )
    assert mine["cached_tokens"] >= 64


async def test_another_users_prompt_does_not_start_from_my_slots_context(
    client: Client, bus_address: str
) -> None:
    # The attack: a slot keeps the context of the job it ran last, and the next
    # job evaluates only what differs from it; were that another user's, the
    # time to first token of a guess would say how much of my prompt it matched.
    mine = "The keeper wrote: " + " ".join(f"line {i} of the log is quiet." for i in range(40))
    other = "The keeper wrote: " + " ".join(f"entry {i} of the book is calm." for i in range(40))
    await client.wait(await client.submit(prompt=mine, max_tokens=1, temperature=0.0))

    guess = await _as_nobody(bus_address, [{"prompt": mine}, {"prompt": other}])

    assert guess["0.state"] == guess["1.state"] == "done"
    # Evaluated whole, my prompt takes as long as another of its length: not
    # the one token that a context holding it would leave.
    assert float(guess["0.ttft"]) > 0.5 * float(guess["1.ttft"]), guess


async def _as_nobody(bus_address: str, requests: list[dict[str, Any]]) -> dict[str, str]:
    """What conversation_as.py says of `requests`, made one after another by NOBODY."""
    command = [
        sys.executable,
        str(HERE / "conversation_as.py"),
        str(NOBODY),
        bus_address,
        json.dumps(requests),
    ]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.split())


async def test_root_loads_and_unloads_models(client: Client) -> None:
    await client.connection.call(NAME, PATH, NAME, "Load", "s", ["gemma"])
    await _until_property(client, "Resident", lambda resident: "gemma" in resident)
    await client.connection.call(NAME, PATH, NAME, "Unload", "s", ["gemma"])
    assert "gemma" not in await client.property("Resident")
    models = dict(await client.property("Models"))
    assert models["gemma"]["state"].value == "on-disk"
    assert models["smollm2"]["default"].value is True
    with pytest.raises(NotFound):
        await client.connection.call(NAME, PATH, NAME, "Load", "s", ["nope"])


async def _until_property(client: Client, name: str, predicate: Callable[[Any], bool]) -> Any:
    return await eventually(lambda: client.property(name), predicate)


# A scheduler of its own for budgets and broken models.


@pytest.fixture
def own_bus() -> Iterator[str]:
    """A bus of its own: the module's scheduler owns the name on the shared one."""
    bus = PrivateBus()
    yield bus.address
    bus.stop()


@pytest_asyncio.fixture
async def small_client(
    own_bus: str, tmp_path: Path
) -> AsyncIterator[tuple[Client, NoosdProcess, Path]]:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))
    extra = f"""
[[model]]
name = "missing"
backend = "llama-cpp"
path = "{tmp_path / "nowhere.gguf"}"
context_length = 512
ram_bytes = 1000

[[model]]
name = "broken"
backend = "llama-cpp"
path = "{broken}"
context_length = 512
ram_bytes = 1000

[[model]]
name = "down"
backend = "openai"
endpoint = "http://127.0.0.1:9/v1"
context_length = 512
ram_bytes = 0
"""
    write_catalog(tmp_path / "models.d", extra)
    # Room for one of the two real models; saved KV states go straight to disk.
    process = start_scheduler(
        own_bus,
        tmp_path,
        ram_bytes="500000000",
        kv_ram_bytes="0",
        max_queued_per_user="2",
        max_queued_prompt_bytes_per_user="3000",
        preload="0",
    )
    async with await Connection.open(own_bus) as connection:
        yield Client(connection), process, tmp_path
    assert process.terminate(30) == 0, process.stderr


async def test_a_model_is_evicted_when_another_needs_its_memory(
    small_client: tuple[Client, NoosdProcess, Path],
) -> None:
    client, _, _ = small_client
    await client.wait(await client.ask("Hi.", max_tokens=2))
    assert await client.property("Resident") == ["smollm2"]

    await client.wait(await client.submit(prompt="Once upon a time", model="gemma", max_tokens=2))
    assert await client.property("Resident") == ["gemma"]


async def test_a_missing_corrupt_or_unreachable_model_fails_its_job_not_the_service(
    small_client: tuple[Client, NoosdProcess, Path],
) -> None:
    client, process, _ = small_client
    for model, says in (("missing", "nowhere.gguf"), ("broken", "broken.gguf"), ("down", "down")):
        try:
            job = await client.submit(prompt="hello", model=model, max_tokens=2)
        except Unavailable as error:  # refused at once: its tokenizer cannot load
            assert says in str(error)
            continue
        info = await client.wait(job)
        assert info["state"] == "failed"
        assert says in info["reason"] or "127.0.0.1:9" in info["reason"]
    assert process.process.poll() is None
    assert (await client.wait(await client.ask("Hi.", max_tokens=2)))["state"] == "done"


async def test_a_full_queue_answers_busy_with_a_retry_hint(
    small_client: tuple[Client, NoosdProcess, Path],
) -> None:
    client, _, _ = small_client
    running = await client.ask("Tell me a long story.", max_tokens=200)
    await client.until(running, lambda info: info["state"] == "running")
    waiting = [await client.ask("Hi.", max_tokens=2) for _ in range(2)]

    with pytest.raises(Busy) as refused:
        await client.ask("One more?", max_tokens=2)

    assert refused.value.retry_after > 0
    for job in (running, *waiting):
        await client.cancel(job)


async def test_one_users_waiting_prompt_bytes_are_bounded_and_not_anothers(
    small_client: tuple[Client, NoosdProcess, Path], own_bus: str
) -> None:
    client, _, _ = small_client
    running = await client.ask("Tell me a long story.", max_tokens=200)
    await client.until(running, lambda info: info["state"] == "running")

    command = [sys.executable, str(HERE / "submit_as.py"), str(NOBODY), own_bus, "2", "2000"]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines["submit0"] == "queued"
    assert lines["submit1"].startswith("Busy: you would have 4000 bytes of prompts waiting")
    # Nobody's full share takes nothing from mine.
    mine = await client.submit(prompt="word " * 400, max_tokens=2)
    assert (await client.info(mine))["state"] == "queued"
    for job in (running, mine):
        await client.cancel(job)


async def test_a_finished_conversation_is_paged_to_disk_and_its_next_turn_starts_from_it(
    small_client: tuple[Client, NoosdProcess, Path],
) -> None:
    client, _, state = small_client
    long_system = SYSTEM + " " + "Remember the rules of the lighthouse. " * 30
    first = [["system", long_system], ["user", "Who keeps the lighthouse?"]]
    done = await client.wait(await client.submit(messages=first, max_tokens=8, temperature=0.0))

    await eventually(lambda: _files(state / "kv", "*.kv"), bool)
    second = [*first, ["assistant", done["text"]], ["user", "And who lights it?"]]
    again = await client.wait(await client.submit(messages=second, max_tokens=8, temperature=0.0))

    assert again["state"] == "done"
    # The long system prompt (and first turn), in whole blocks of 64 tokens,
    # came from the saved state rather than being evaluated again.
    assert again["cached_tokens"] >= 192


async def test_what_the_predictor_learnt_survives_a_restart(own_bus: str, tmp_path: Path) -> None:
    write_catalog(tmp_path / "models.d")
    process = start_scheduler(own_bus, tmp_path, preload="0")
    async with await Connection.open(own_bus) as connection:
        client = Client(connection)
        for _ in range(3):
            await client.wait(await client.submit(prompt="One,", max_tokens=1))
        learnt = await client.property("PredictionHitRate")
    assert process.terminate(30) == 0, process.stderr
    assert learnt >= 0  # predictions were made and scored

    process = start_scheduler(own_bus, tmp_path, preload="0")
    async with await Connection.open(own_bus) as connection:
        assert await Client(connection).property("PredictionHitRate") == learnt
    assert process.terminate(30) == 0, process.stderr


def _thread_niceness(pid: int) -> list[int]:
    """The nice value of each thread of process `pid` (proc(5): field 19 of stat)."""
    values = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        fields = stat.read_text().rpartition(")")[2].split()
        values.append(int(fields[16]))
    return values


async def test_a_batch_job_generates_at_the_lowest_cpu_priority(
    client: Client, scheduler_service: NoosdProcess
) -> None:
    job = await client.submit(prompt="1, 2, 3, 4,", priority="batch", max_tokens=200)
    await client.until(job, lambda info: info["tokens"] >= 2)

    niceness = await asyncio.to_thread(_thread_niceness, scheduler_service.process.pid)

    await client.cancel(job)
    assert 19 in niceness  # its generation thread
    assert 0 in niceness  # the event loop, and everything else
