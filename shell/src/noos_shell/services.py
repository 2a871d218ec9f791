"""Thin async wrappers over the noos SDK for the shell, and the services' live status.

Every call but a job's answer has a time limit. A service that cannot be
reached, or does not answer in time, is marked down and the call raises
`ServiceDown`; the shell goes on without it. The status (resident models and
queue, index progress, memory per tier) follows the services' own signals
rather than polling, through the SDK's watches: the scheduler's property
changes, the index's progress and memory's counts (each sent to us alone,
as our user sees them), and the services coming onto the bus and leaving it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from noos import (
    FileHit,
    Index,
    IndexProgress,
    Memory,
    MemoryStats,
    NoosError,
    RecallHit,
    Scheduler,
    SchedulerChange,
    ServiceChange,
    Unavailable,
    Watch,
    watch_services,
)
from noos.bus import Connection, bus_address, describe_bus
from noos.memory import MemoryFilter
from noos.scheduler import Conversation

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
# Status and bookkeeping calls; a search or recall may first load a model.
STATUS_TIMEOUT_S = 10.0
QUERY_TIMEOUT_S = 30.0
# Leaving, the watches unsubscribe; a service that hangs does not hold the shell up.
UNWATCH_S = 1.0


class ServiceName(enum.Enum):
    SCHEDULER = "scheduler"
    INDEX = "index"
    MEMORY = "memory"


BUS_NAMES = {
    ServiceName.SCHEDULER: Scheduler.bus_name,
    ServiceName.INDEX: Index.bus_name,
    ServiceName.MEMORY: Memory.bus_name,
}


class ServiceDown(Exception):
    """The service is down, or did not answer in time; the message says which and why."""


@dataclass(frozen=True)
class ServiceState:
    """One service as the shell last heard of it: None while not yet asked."""

    up: bool | None = None
    reason: str = ""


@dataclass(frozen=True)
class StatusSnapshot:
    """What the status panel shows."""

    states: dict[ServiceName, ServiceState] = field(
        default_factory=lambda: {name: ServiceState() for name in ServiceName}
    )
    resident: tuple[str, ...] = ()
    models: int = 0
    queued_jobs: int = 0
    running_jobs: int = 0
    files_indexed: int = 0
    files_queued: int = 0
    crawling: bool = False
    memory_tiers: tuple[int, int, int] = (0, 0, 0)


class Services:
    """The shell's one connection to the bus, its clients, and the services' status.

    `on_status` is called with every new snapshot, in the event loop's thread.
    """

    def __init__(
        self,
        on_status: Callable[[StatusSnapshot], None],
        address: str | None = None,
    ) -> None:
        self.address = bus_address(address)
        self.status = StatusSnapshot()
        self._on_status = on_status
        self._connection: Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Each service is watched while it is on the bus: one that comes
        # back has forgotten its watchers.
        self._watches: dict[ServiceName, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Connect, follow the status signals, and read every service's status once."""
        try:
            self._connection = await asyncio.wait_for(
                Connection.open(self.address), CONNECT_TIMEOUT_S
            )
        except (Unavailable, TimeoutError) as exc:
            reason = str(exc) or f"no answer from {describe_bus(self.address)}"
            for name in ServiceName:
                self._mark(name, ServiceState(False, reason))
            return
        connection = self._connection
        # Subscribed before the first reads: a change between the two is not missed.
        await self._follow(watch_services(connection, BUS_NAMES.values()), self._service_changed)
        for name in ServiceName:
            await self._watch(name)
        await asyncio.gather(*(self.refresh(name) for name in ServiceName))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=UNWATCH_S)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def refresh(self, name: ServiceName) -> None:
        """Read one service's status again; a service that does not answer is down."""
        with contextlib.suppress(ServiceDown):
            if name is ServiceName.SCHEDULER:
                load = await self._call(name, self._scheduler().status())
                models = await self._call(name, self._scheduler().models())
                self._update(
                    resident=load.resident,
                    models=len(models),
                    queued_jobs=load.queued,
                    running_jobs=load.running,
                )
            elif name is ServiceName.INDEX:
                index = await self._call(name, self._index().status())
                self._update(
                    files_indexed=index.files_indexed,
                    files_queued=index.queued,
                    crawling=index.crawling,
                )
            else:
                stats = await self._call(name, self._memory().stats())
                tiers = (stats["hot_count"], stats["warm_count"], stats["cold_count"])
                self._update(memory_tiers=tiers)

    # The calls of the shell, one per thing it asks.

    async def search(self, query: str, limit: int = 10) -> list[FileHit]:
        return await self._call(
            ServiceName.INDEX, self._index().search(query, limit), QUERY_TIMEOUT_S
        )

    async def recall(
        self, query: str, limit: int = 5, kinds: tuple[str, ...] = ()
    ) -> list[RecallHit]:
        """The memories that best match `query`, of `kinds` only if given."""
        return await self._call(
            ServiceName.MEMORY,
            self._memory().recall(query, limit, MemoryFilter(kinds=kinds)),
            QUERY_TIMEOUT_S,
        )

    async def remember(
        self, text: str, kind: str, importance: float | None = None, **metadata: str
    ) -> str:
        return await self._call(
            ServiceName.MEMORY,
            self._memory().remember(text, kind, metadata, importance),
            QUERY_TIMEOUT_S,
        )

    async def forget(self, memory_ids: Iterable[str]) -> int:
        return await self._call(
            ServiceName.MEMORY, self._memory().forget(list(memory_ids)), QUERY_TIMEOUT_S
        )

    # A job's answer (`ask`, `stream`) has no time limit: its first piece may
    # wait behind other jobs, for its model to load and for a long context to
    # be read (minutes on a slow CPU), and Ctrl+C stops it. The SDK asks the
    # job's state while it waits, so a scheduler that went away still ends it.

    async def ask(self, conversation: Conversation, max_tokens: int) -> str:
        """The whole answer to `conversation`, the likeliest one."""
        return await self._call(
            ServiceName.SCHEDULER,
            self._scheduler().ask(conversation, max_tokens=max_tokens, temperature=0.0),
            limit_s=None,
        )

    async def stream(self, conversation: Conversation, max_tokens: int) -> AsyncIterator[str]:
        """The answer to `conversation`, piece by piece; leaving early cancels its job."""
        pieces = self._scheduler().stream(
            conversation, max_tokens=max_tokens, priority="interactive"
        )
        async with contextlib.aclosing(pieces):
            while True:
                try:
                    piece = await self._call(ServiceName.SCHEDULER, anext(pieces), limit_s=None)
                except StopAsyncIteration:
                    return
                yield piece

    # Plumbing.

    def _scheduler(self) -> Scheduler:
        return Scheduler(self._require_connection(ServiceName.SCHEDULER))

    def _index(self) -> Index:
        return Index(self._require_connection(ServiceName.INDEX))

    def _memory(self) -> Memory:
        return Memory(self._require_connection(ServiceName.MEMORY))

    def _require_connection(self, name: ServiceName) -> Connection:
        if self._connection is None:
            raise ServiceDown(f"{name.value} is down: {self.status.states[name].reason}")
        return self._connection

    async def _call(
        self, name: ServiceName, call: Awaitable[T], limit_s: float | None = STATUS_TIMEOUT_S
    ) -> T:
        """`call`'s result; `ServiceDown`, with the service marked down, if it is
        unavailable or slower than `limit_s` (None: no limit). Other errors of
        the service pass."""
        try:
            result = await asyncio.wait_for(call, limit_s)
        except Unavailable as exc:
            self._mark(name, ServiceState(False, str(exc)))
            raise ServiceDown(f"{name.value} is down: {exc}") from exc
        except TimeoutError as exc:
            within = "in time" if limit_s is None else f"within {limit_s:g} s"
            self._mark(name, ServiceState(False, f"no answer {within}"))
            raise ServiceDown(f"{name.value} did not answer {within}") from exc
        if self.status.states[name].up is not True:
            self._mark(name, ServiceState(True))
        return result

    def _mark(self, name: ServiceName, state: ServiceState) -> None:
        self._update(states={**self.status.states, name: state})

    def _update(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)
        self._on_status(self.status)

    # The watches.

    async def _follow(self, watch: Watch[T], handle: Callable[[T], None]) -> None:
        """Subscribe `watch` now, and hand what it yields to `handle` from now on."""
        await watch.start()
        self._spawn(self._drain(watch, handle))

    async def _drain(self, watch: Watch[T], handle: Callable[[T], None]) -> None:
        async with watch:
            try:
                async for item in watch:
                    handle(item)
            except Unavailable as exc:  # the bus itself is gone
                for name in ServiceName:
                    self._mark(name, ServiceState(False, str(exc)))

    async def _watch(self, name: ServiceName) -> None:
        """Subscribe to the service's own watch now, if it is on the bus, and follow it."""
        watch, handle = self._watch_of(name)
        try:
            await watch.start()
        except Unavailable:
            return  # not on the bus: its coming back brings a new watch
        except NoosError as exc:
            self._mark(name, ServiceState(False, str(exc)))
            return
        if (earlier := self._watches.pop(name, None)) is not None:
            earlier.cancel()
        self._watches[name] = self._spawn(self._drain(watch, handle))

    def _watch_of(self, name: ServiceName) -> tuple[Watch[Any], Callable[[Any], None]]:
        if name is ServiceName.SCHEDULER:
            return self._scheduler().watch(), self._scheduler_changed
        if name is ServiceName.INDEX:
            return self._index().watch_progress(), self._index_progressed
        return self._memory().watch_stats(), self._memory_counted

    def _memory_counted(self, stats: MemoryStats) -> None:
        self._update(memory_tiers=(stats.hot, stats.warm, stats.cold))
        if self.status.states[ServiceName.MEMORY].up is not True:
            self._mark(ServiceName.MEMORY, ServiceState(True))

    def _scheduler_changed(self, change: SchedulerChange) -> None:
        updates: dict[str, Any] = {}
        if change.resident is not None:
            updates["resident"] = change.resident
        if change.models is not None:
            updates["models"] = len(change.models)
        if change.queued is not None:
            updates["queued_jobs"] = change.queued
        if change.running is not None:
            updates["running_jobs"] = change.running
        if updates:
            self._update(**updates)

    def _index_progressed(self, progress: IndexProgress) -> None:
        self._update(files_queued=progress.queued)
        # Progress counts the files done since the service started, not those
        # in the index: read that again (Progress comes at most once a second).
        self._spawn(self.refresh(ServiceName.INDEX))

    def _service_changed(self, change: ServiceChange) -> None:
        for name, its_bus_name in BUS_NAMES.items():
            if change.bus_name != its_bus_name:
                continue
            if change.appeared:
                self._spawn(self.refresh(name))
                self._spawn(self._watch(name))
            else:
                self._mark(name, ServiceState(False, "it left the bus"))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
