"""The client of org.noos.Scheduler1: jobs on the system's language models.

async with await Scheduler.connect() as scheduler:
    async for piece in scheduler.stream("Why is the sky blue?", max_tokens=64):
        print(piece, end="", flush=True)
    print(await scheduler.ask([("system", "Answer in one word."), ("user", "Capital of France?")]))

A job's text and its end come as the signals Token and Finished, which the
service sends to the submitting connection alone. Waiting for them holds no
call open, so any number of jobs may stream or be waited for on one
connection without taking its slots for calls in flight (see `Connection`).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack

from dbus_fast import Message, MessageType, Variant

from noos.bus import Connection
from noos.client import Client
from noos.protocol.errors import InvalidArgument, NoosError
from noos.protocol.scheduler import (
    BUS_NAME,
    DONE,
    ENDED_STATES,
    FINISHED_SIGNATURE,
    GENERATION_OPTIONS,
    JOB_INTERFACE,
    JOBS_PATH,
    REQUEST,
    TOKEN_SIGNATURE,
    JobInfo,
    ModelInfo,
    SchedulerStatus,
    job_info_of,
    job_path,
    model_info_of,
    status_of,
)
from noos.protocol.scheduler import INTERFACE as SCHEDULER_INTERFACE
from noos.protocol.scheduler import OBJECT_PATH as SCHEDULER_PATH
from noos.sync import LoopThread, SyncClient, blocking
from noos.watch import PropertiesChanged, Watch, watch_properties

__all__ = [
    "BUS_NAME",
    "DONE",
    "ENDED_STATES",
    "JOBS_PATH",
    "JOB_INTERFACE",
    "SCHEDULER_INTERFACE",
    "SCHEDULER_PATH",
    "STATE_CHECK_S",
    "ChatMessage",
    "Conversation",
    "GenerationOptions",
    "Job",
    "JobFailed",
    "JobInfo",
    "ModelInfo",
    "Prompt",
    "Scheduler",
    "SchedulerStatus",
    "SyncJob",
    "SyncScheduler",
    "job_info_of",
    "job_signals",
    "model_info_of",
    "request_of",
    "status_of",
]

# How often a waiter asks a job's state itself while no Finished comes: a
# signal the bus dropped, or a service that went away, would otherwise leave it
# waiting forever. One Info call per waiting job per interval.
STATE_CHECK_S = 5.0

T = TypeVar("T")


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation: `role` is "system", "user" or "assistant"."""

    role: str
    content: str


# A conversation: messages, or (role, content) pairs, or {"role": ..., "content": ...}.
Conversation = Sequence[ChatMessage | tuple[str, str] | Mapping[str, str]]
# What a job answers: a conversation, or a text (one user message, or with
# raw=True the raw text a base model continues).
Prompt = str | Conversation


class GenerationOptions(TypedDict, total=False):
    """How to run a job; an option left out takes the service's default.

    model: a model of the catalog, or "default" (the default).
    priority: "interactive", "normal" or "batch" (default: the model's class).
    max_tokens: the most tokens to generate (default 256).
    temperature, top_p, top_k, seed: how tokens are drawn (temperature 0:
        always the likeliest).
    """

    model: str
    priority: str
    max_tokens: int
    temperature: float
    top_p: float
    top_k: int
    seed: int


@dataclass(frozen=True)
class SchedulerChange:
    """What one PropertiesChanged of the scheduler says; None: unchanged this time.

    The scheduler announces its jobs queued and running, the models resident,
    the catalog's models, and the accelerators (those come as `other`)."""

    queued: int | None = None
    running: int | None = None
    resident: tuple[str, ...] | None = None
    models: tuple[ModelInfo, ...] | None = None
    other: Mapping[str, Any] | None = None


def scheduler_change_of(change: PropertiesChanged) -> SchedulerChange:
    values = dict(change.changed)
    queued, running = values.pop("Queued", None), values.pop("Running", None)
    resident, models = values.pop("Resident", None), values.pop("Models", None)
    return SchedulerChange(
        queued=None if queued is None else int(queued),
        running=None if running is None else int(running),
        resident=None if resident is None else tuple(resident),
        models=None
        if models is None
        else tuple(model_info_of(name, details) for name, details in models),
        other=values or None,
    )


class JobFailed(NoosError):
    """A job ended without its answer: it failed, or was cancelled. `info` says how."""

    def __init__(self, info: JobInfo) -> None:
        how = (
            f"failed: {info.reason or 'no reason given'}" if info.state == "failed" else info.state
        )
        super().__init__(f"job {info.id} {how}")
        self.info = info


def message_pair(message: ChatMessage | tuple[str, str] | Mapping[str, str]) -> list[str]:
    if isinstance(message, ChatMessage):
        return [message.role, message.content]
    if isinstance(message, Mapping):
        return [message["role"], message["content"]]
    role, content = message
    return [role, content]


def request_of(prompt: Prompt, raw: bool, options: GenerationOptions) -> dict[str, Variant]:
    """The request dict of Submit for `prompt` and `options`."""
    request: dict[str, Variant] = {}
    if isinstance(prompt, str):
        if raw:
            request["prompt"] = REQUEST["prompt"].variant(prompt)
        else:
            request["messages"] = REQUEST["messages"].variant([["user", prompt]])
    elif raw:
        raise InvalidArgument("a raw prompt is a text, not a conversation")
    else:
        request["messages"] = REQUEST["messages"].variant(
            [message_pair(message) for message in prompt]
        )
    request.update(GENERATION_OPTIONS.encode(options))
    return request


class JobEvents:
    """What the signals of one job have said: the pieces of its text, and its end."""

    def __init__(self, streamed: bool) -> None:
        self.finished: asyncio.Future[JobInfo] = asyncio.get_running_loop().create_future()
        # The Token texts, then None once the job has ended; kept only for a
        # job whose text is streamed (Finished has the whole text anyway).
        self.pieces: asyncio.Queue[str | None] | None = asyncio.Queue() if streamed else None

    def token(self, text: str) -> None:
        if self.pieces is not None and not self.finished.done():
            self.pieces.put_nowait(text)

    def end(self, info: JobInfo) -> None:
        if self.finished.done():
            return
        self.finished.set_result(info)
        if self.pieces is not None:
            self.pieces.put_nowait(None)


class JobSignals:
    """The Token and Finished signals a connection receives, routed to its jobs' events.

    The service sends them to the submitting (or watching) connection alone,
    with no match rule, so they come through a message handler; only those
    from the owner of org.noos.Scheduler1 count, since any peer may send a
    signal. A job's first signals may come before the reply to its Submit,
    which names the job: while a Submit is in flight, the signals of jobs not
    known yet are kept, and a job claims its own once its path is known.
    """

    def __init__(self, connection: Connection) -> None:
        self._jobs: dict[str, JobEvents] = {}
        self._early: dict[str, list[Message]] = {}
        self._submits_in_flight = 0
        self._service: str | None = None
        connection.bus.add_message_handler(self._receive)

    def _receive(self, message: Message) -> None:
        # Returns None, never "handled": the connection's other handlers and
        # dbus-fast itself may want the same message.
        path = message.path
        if (
            message.message_type is not MessageType.SIGNAL
            or message.interface != JOB_INTERFACE
            or path is None
        ):
            return
        events = self._jobs.get(path)
        if events is not None:
            if message.sender == self._service:
                self._deliver(path, events, message)
        elif self._submits_in_flight:
            self._early.setdefault(path, []).append(message)

    def _deliver(self, path: str, events: JobEvents, message: Message) -> None:
        if message.member == "Token" and message.signature == TOKEN_SIGNATURE:
            events.token(message.body[0])
        elif message.member == "Finished" and message.signature == FINISHED_SIGNATURE:
            self.end(path, events, job_info_of(message.body[0]))

    async def learn_service(self, connection: Connection) -> None:
        """Learn who owns the service's name now: it may have restarted since."""
        (self._service,) = await connection.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "GetNameOwner",
            "s",
            (BUS_NAME,),
        )

    async def submit(
        self, connection: Connection, call: Awaitable[str], streamed: bool
    ) -> tuple[str, JobEvents]:
        """Await `call` (the Submit), then follow the job it names; its path and events."""
        self._submits_in_flight += 1
        try:
            path = await call
            try:
                # After the Submit, which starts the service if the bus activates it.
                await self.learn_service(connection)
            except BaseException:
                # Nobody would follow the job: stop it rather than let it run unseen.
                await cancel_quietly(connection, path)
                raise
            events = self.follow(path, streamed)
            for message in self._early.pop(path, []):
                if message.sender == self._service:
                    self._deliver(path, events, message)
        finally:
            self._submits_in_flight -= 1
            if not self._submits_in_flight:
                self._early.clear()
        return path, events

    def following(self, path: str) -> JobEvents | None:
        """The events of the job at `path`, if this connection follows its signals."""
        return self._jobs.get(path)

    def follow(self, path: str, streamed: bool) -> JobEvents:
        """Route the signals of the job at `path` to events of its own, from now on."""
        events = self._jobs.get(path)
        if events is None:
            events = self._jobs[path] = JobEvents(streamed)
        return events

    def end(self, path: str, events: JobEvents, info: JobInfo) -> None:
        """The job at `path` has ended: no more signals will come for it."""
        if self._jobs.get(path) is events:
            del self._jobs[path]
        events.end(info)


# One per connection, made on its first job, gone with it.
_signals_of_connection: weakref.WeakKeyDictionary[Connection, JobSignals] = (
    weakref.WeakKeyDictionary()
)


def job_signals(connection: Connection) -> JobSignals:
    signals = _signals_of_connection.get(connection)
    if signals is None:
        signals = _signals_of_connection[connection] = JobSignals(connection)
    return signals


class Job:
    """A handle on one job: its info, its end, its cancel.

    Used as an async context manager, leaving the block before the job has
    ended cancels it:

        async with await scheduler.submit("Summarise: ...") as job:
            info = await job.wait()
    """

    def __init__(self, scheduler: Scheduler, path: str, events: JobEvents | None = None) -> None:
        self.scheduler = scheduler
        self.path = path
        # Set once this connection follows the job's signals (see `wait`).
        self._events = events

    def __repr__(self) -> str:
        return f"Job({self.path!r})"

    async def info(self) -> JobInfo:
        """The job as it is now."""
        (values,) = await self._call("Info")
        return job_info_of(values)

    async def wait(self) -> JobInfo:
        """The job once it has ended: done, cancelled or failed."""
        signals = job_signals(self.scheduler.connection)
        events = self._events or signals.following(self.path) or await self._watch(signals)
        self._events = events
        return await self._checking_state(events, asyncio.shield(events.finished))

    async def cancel(self) -> None:
        """Stop the job; what it made so far stays in its info."""
        await self._call("Cancel")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._events is None or not self._events.finished.done():
            await cancel_quietly(self.scheduler.connection, self.path)

    async def _call(self, member: str) -> list[Any]:
        return await self.scheduler.connection.call(BUS_NAME, self.path, JOB_INTERFACE, member)

    async def _watch(self, signals: JobSignals) -> JobEvents:
        """Follow the signals of a job submitted on another connection; it may
        have ended already."""
        await signals.learn_service(self.scheduler.connection)
        await self._call("Watch")
        events = signals.follow(self.path, streamed=False)
        # Asked once followed: a Finished sent before then never reached us.
        info = await self.info()
        if info.ended:
            signals.end(self.path, events, info)
        return events

    async def _checking_state(self, events: JobEvents, wanted: Awaitable[T]) -> T:
        """`wanted`'s result, asking the job's state every STATE_CHECK_S meanwhile."""
        task = asyncio.ensure_future(wanted)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=STATE_CHECK_S)
                if done:
                    return task.result()
                info = await self.info()
                if info.ended:
                    # Ends `events`, which completes `wanted`.
                    job_signals(self.scheduler.connection).end(self.path, events, info)
        finally:
            task.cancel()


async def cancel_quietly(connection: Connection, path: str) -> None:
    """Cancel the job at `path` while giving up on it: it may have ended
    meanwhile, or the service gone, and either way nothing is left to stop."""
    with contextlib.suppress(NoosError):
        await connection.call(BUS_NAME, path, JOB_INTERFACE, "Cancel")


async def submit_job(connection: Connection, request: dict[str, Variant]) -> str:
    """Submit `request`; the new job's path.

    Cancelled meanwhile (Ctrl-C), it waits for the reply and cancels the job
    the service made, if any: else that job would run on unseen to its end."""
    submitting = asyncio.ensure_future(
        connection.call(
            BUS_NAME, SCHEDULER_PATH, SCHEDULER_INTERFACE, "Submit", "a{sv}", (request,)
        )
    )
    try:
        return str((await asyncio.shield(submitting))[0])
    except asyncio.CancelledError:
        with contextlib.suppress(NoosError):
            await cancel_quietly(connection, str((await submitting)[0]))
        raise


class TextStream:
    """The text of a streamed job, piece by piece as the model makes it."""

    def __init__(self, job: Job, events: JobEvents) -> None:
        assert events.pieces is not None, "the job was not submitted to be streamed"
        self.job = job
        self._events = events
        self._pieces = events.pieces
        self._streamed = ""
        self._all_streamed = False

    @property
    def ended(self) -> bool:
        return self._all_streamed

    async def next_piece(self) -> str | None:
        """The next piece of text; None once the job is done. `JobFailed` if it
        failed or was cancelled, after the text it made."""
        if not self._all_streamed:
            piece = await self.job._checking_state(self._events, self._pieces.get())
            if piece is not None:
                self._streamed += piece
                return piece
            self._all_streamed = True
            info = self._events.finished.result()
            # Finished has the whole text: it brings the end of one whose
            # last Tokens the bus dropped, or that the end overtook.
            if info.text.startswith(self._streamed) and len(info.text) > len(self._streamed):
                rest = info.text[len(self._streamed) :]
                self._streamed = info.text
                return rest
        info = self._events.finished.result()
        if info.state != DONE:
            raise JobFailed(info)
        return None


class Scheduler(Client):
    """Async client of org.noos.Scheduler1."""

    bus_name = BUS_NAME
    object_path = SCHEDULER_PATH
    interface = SCHEDULER_INTERFACE

    async def submit(
        self, prompt: Prompt, *, raw: bool = False, **options: Unpack[GenerationOptions]
    ) -> Job:
        """Queue a job that answers `prompt` (see `Prompt`, `GenerationOptions`); its handle.

        `Busy` when the queue is full: retry after its `retry_after` seconds."""
        job, _ = await self._submit(prompt, raw, options, streamed=False)
        return job

    async def stream(
        self, prompt: Prompt, *, raw: bool = False, **options: Unpack[GenerationOptions]
    ) -> AsyncGenerator[str, None]:
        """The answer to `prompt`, piece by piece as it is made; `JobFailed` if the
        job fails or is cancelled.

        Leaving the loop early cancels the job: at once inside
        `contextlib.aclosing`, else when the iterator is collected."""
        text = TextStream(*await self._submit(prompt, raw, options, streamed=True))
        try:
            while (piece := await text.next_piece()) is not None:
                yield piece
        finally:
            if not text.ended:
                await cancel_quietly(self.connection, text.job.path)

    async def ask(
        self, prompt: Prompt, *, raw: bool = False, **options: Unpack[GenerationOptions]
    ) -> str:
        """The whole answer to `prompt`; `JobFailed` if the job fails or is cancelled."""
        async with await self.submit(prompt, raw=raw, **options) as job:
            info = await job.wait()
        if info.state != DONE:
            raise JobFailed(info)
        return info.text

    async def _submit(
        self, prompt: Prompt, raw: bool, options: GenerationOptions, streamed: bool
    ) -> tuple[Job, JobEvents]:
        request = request_of(prompt, raw, options)
        path, events = await job_signals(self.connection).submit(
            self.connection, submit_job(self.connection, request), streamed
        )
        return Job(self, path, events), events

    def job(self, job_id: int) -> Job:
        """A handle on the job `job_id` (yours, or anyone's for root)."""
        return Job(self, job_path(job_id))

    async def jobs(self) -> list[Job]:
        """Your jobs, running and recently ended (root: everyone's)."""
        (paths,) = await self._call("Jobs")
        return [Job(self, path) for path in paths]

    async def models(self) -> list[ModelInfo]:
        """The models of the catalog, and what each is doing."""
        return [model_info_of(name, details) for name, details in await self._get("Models")]

    async def status(self) -> SchedulerStatus:
        """The scheduler's load, in one call."""
        return status_of(await self._get_all())

    def watch(self) -> Watch[SchedulerChange]:
        """The scheduler's load and models as they change:

        async with scheduler.watch() as changes:
            async for change in changes:
                if change.resident is not None:
                    print("resident:", change.resident)

        The service sends them to the watching connection alone, as its
        user sees them (the jobs counted are yours), from WatchStatus until
        UnwatchStatus, which closing the watch calls."""

        async def subscribe() -> list[PropertiesChanged]:
            await self._call("WatchStatus")
            return []

        async def unsubscribe() -> None:
            await self._call("UnwatchStatus")

        return watch_properties(
            self.connection,
            self.bus_name,
            self.object_path,
            self.interface,
            subscribe=subscribe,
            unsubscribe=unsubscribe,
        ).map(scheduler_change_of)

    async def load(self, model: str) -> None:
        """Load `model` into memory now, ahead of its jobs (root only)."""
        await self._call("Load", "s", model)

    async def unload(self, model: str) -> None:
        """Take `model` out of memory (root only)."""
        await self._call("Unload", "s", model)

    async def pin(self, model: str, pinned: bool = True) -> None:
        """Keep `model` in memory for good, or no longer (root only)."""
        await self._call("Pin", "sb", model, pinned)


class SyncJob:
    """The blocking twin of a `Job`, from a `SyncScheduler`."""

    def __init__(self, job: Job, loop: LoopThread) -> None:
        self._job = job
        self._loop = loop

    def __repr__(self) -> str:
        return f"SyncJob({self.path!r})"

    @property
    def path(self) -> str:
        return self._job.path

    def info(self) -> JobInfo:
        return self._loop.run(self._job.info())

    def wait(self) -> JobInfo:
        return self._loop.run(self._job.wait())

    def cancel(self) -> None:
        self._loop.run(self._job.cancel())


class SyncScheduler(SyncClient[Scheduler]):
    """Blocking client of org.noos.Scheduler1."""

    client_type = Scheduler
    ask = blocking(Scheduler.ask)
    models = blocking(Scheduler.models)
    status = blocking(Scheduler.status)
    load = blocking(Scheduler.load)
    unload = blocking(Scheduler.unload)
    pin = blocking(Scheduler.pin)

    def submit(
        self, prompt: Prompt, *, raw: bool = False, **options: Unpack[GenerationOptions]
    ) -> SyncJob:
        return SyncJob(self._loop.run(self._client.submit(prompt, raw=raw, **options)), self._loop)

    def stream(
        self, prompt: Prompt, *, raw: bool = False, **options: Unpack[GenerationOptions]
    ) -> Iterator[str]:
        """Like `Scheduler.stream`; leaving the loop early (or Ctrl-C) cancels the job."""
        text = TextStream(
            *self._loop.run(self._client._submit(prompt, raw, options, streamed=True))
        )
        try:
            while (piece := self._loop.run(text.next_piece())) is not None:
                yield piece
        finally:
            if not text.ended:
                self._loop.run(cancel_quietly(self._client.connection, text.job.path))

    def job(self, job_id: int) -> SyncJob:
        return SyncJob(self._client.job(job_id), self._loop)

    def jobs(self) -> list[SyncJob]:
        return [SyncJob(job, self._loop) for job in self._loop.run(self._client.jobs())]
