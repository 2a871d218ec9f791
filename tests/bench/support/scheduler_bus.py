"""`noosd scheduler` on a private dbus-daemon, and a client that times its jobs.

The client speaks raw D-Bus, as the SDK does underneath, and stamps each job's
signals as they arrive: the first `Token` (time to first token, from the
caller's side) and `Finished` (with the job's info, `cached_tokens` included).
Signals may come before Submit's reply names the job, so they are kept by
path from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbus_fast import Message, MessageType, Variant

from noos.bus import Connection
from noos.protocol.scheduler import (
    BUS_NAME,
    INTERFACE,
    JOB_INTERFACE,
    OBJECT_PATH,
    REQUEST,
)
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import start_scheduler, write_catalog

# Longer than this waiting for a job's signals, and the job is stuck.
SIGNAL_TIMEOUT_S = 120.0


@dataclass
class JobTimes:
    """When a job's signals reached the client (`time.perf_counter`)."""

    submitted: float = 0.0
    first_token: float | None = None
    tokens: int = 0
    finished: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def time_to_first_token(self) -> float:
        assert self.first_token is not None, "no token came"
        return self.first_token - self.submitted

    @property
    def tokens_per_s(self) -> float:
        """The generation rate the caller sees: tokens after the first over the
        time from the first Token to Finished."""
        assert self.first_token is not None and self.finished is not None
        return (self.tokens - 1) / (self.finished - self.first_token)


class JobClient:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._jobs: dict[str, JobTimes] = {}
        # Set by every signal, for those waiting until their jobs got so far.
        self._signalled = asyncio.Event()
        connection.bus.add_message_handler(self._on_message)

    def _times(self, path: str) -> JobTimes:
        return self._jobs.setdefault(path, JobTimes())

    def _on_message(self, message: Message) -> None:
        if message.message_type is not MessageType.SIGNAL:
            return
        if message.interface != JOB_INTERFACE:
            return
        now = time.perf_counter()
        times = self._times(message.path or "")
        if message.member == "Token":
            if times.first_token is None:
                times.first_token = now
            times.tokens += message.body[1]
        elif message.member == "Finished":
            times.finished = now
            times.info = {key: value.value for key, value in message.body[0].items()}
            times.ended.set()
        self._signalled.set()

    async def submit(self, **request: Any) -> str:
        """Submit a job (the keys of Submit's request); its path. Its times start now."""
        body = {key: Variant(REQUEST[key].signature, value) for key, value in request.items()}
        submitted = time.perf_counter()
        (path,) = await self.connection.call(
            BUS_NAME, OBJECT_PATH, INTERFACE, "Submit", "a{sv}", [body]
        )
        self._times(path).submitted = submitted
        return str(path)

    def times(self, job: str) -> JobTimes:
        return self._times(job)

    async def first_token(self, job: str) -> float:
        """Seconds from the job's Submit to its first Token signal, once it came."""
        times = self._times(job)
        await self.until(lambda: times.first_token is not None)
        return times.time_to_first_token

    async def finished(self, job: str) -> JobTimes:
        times = self._times(job)
        await asyncio.wait_for(times.ended.wait(), SIGNAL_TIMEOUT_S)
        return times

    async def until(self, holds: Callable[[], bool]) -> None:
        """Wait until `holds()`, asking again after each signal."""
        async with asyncio.timeout(SIGNAL_TIMEOUT_S):
            while not holds():
                self._signalled.clear()
                await self._signalled.wait()

    async def info(self, job: str) -> dict[str, Any]:
        (info,) = await self.connection.call(BUS_NAME, job, JOB_INTERFACE, "Info")
        return {key: value.value for key, value in info.items()}

    async def cancel(self, job: str) -> None:
        await self.connection.call(BUS_NAME, job, JOB_INTERFACE, "Cancel")


@contextlib.asynccontextmanager
async def scheduler_client(extra_catalog: str = "", **settings: str) -> AsyncIterator[JobClient]:
    """A `noosd scheduler` of its own bus, catalog (see `write_catalog`, with
    `extra_catalog`) and state directory, and a client of it; `settings` as
    `start_scheduler`'s."""
    bus = PrivateBus()
    try:
        with tempfile.TemporaryDirectory(prefix="noos-bench-scheduler-") as state_dir:
            state = Path(state_dir)
            write_catalog(state / "models.d", extra_catalog)
            process = start_scheduler(bus.address, state, **settings)
            try:
                async with await Connection.open(bus.address) as connection:
                    yield JobClient(connection)
            finally:
                status = process.terminate(30)
                if status != 0:
                    print(f"noosd scheduler exited with {status}:\n{process.stderr[-2000:]}")
    finally:
        bus.stop()


def median_ms(samples: Sequence[float]) -> str:
    """The median of durations in seconds, in ms."""
    return f"{statistics.median(samples) * 1e3:.0f}"


def range_ms(samples: Sequence[float]) -> str:
    """The least and the most of durations in seconds, in ms."""
    return f"{min(samples) * 1e3:.0f}-{max(samples) * 1e3:.0f}"
