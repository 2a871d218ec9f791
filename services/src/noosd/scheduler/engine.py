"""The engine: the policy core's decisions carried out on real models.

Everything here runs on the event loop but the blocking work, which goes to
threads: loading and closing models (one loader thread, so a load and an
eviction never overlap), tokenizing prompts (one thread), and generations
(one thread per running job; llama.cpp releases the GIL). Threads report
back through the loop, where each report becomes an event of the core, whose
decisions are carried out at once, in order.

A running job's context is its model's slot; a slot's lock is held by the
thread that generates on it. The core counts a slot free as soon as it tells
a job to stop (Preempt, Cancel): the next job's thread then waits on the lock
for the stopping one to reach its token boundary and save its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from noos.protocol.errors import InvalidArgument, NoosError, Unavailable
from noosd.runtime import waiting
from noosd.runtime.health import WorkLoop
from noosd.runtime.turns import FairTurns
from noosd.scheduler.backends import backend_for
from noosd.scheduler.backends.base import (
    Backend,
    Ending,
    Generation,
    GenerationError,
    KvState,
    ModelLoadError,
    ModelRuntime,
    Outcome,
    Prompt,
    Stop,
)
from noosd.scheduler.core.catalog import Backend as BackendKind
from noosd.scheduler.core.catalog import Catalog, ModelSpec
from noosd.scheduler.core.config import SchedulerConfig
from noosd.scheduler.core.decisions import (
    Cancel,
    Decision,
    Drop,
    Evict,
    Load,
    PageOut,
    Preempt,
    Reject,
    Resume,
    Start,
)
from noosd.scheduler.core.jobs import (
    ROOT_UID,
    TERMINAL,
    JobId,
    JobInfo,
    JobRequest,
    JobState,
    Priority,
    Sampling,
)
from noosd.scheduler.core.kvcache import SavedState, prefix_blocks
from noosd.scheduler.core.machine import Scheduler, SchedulerStats
from noosd.scheduler.core.prediction import ModelPredictor
from noosd.scheduler.live.priorities import GenerationPriorities
from noosd.scheduler.live.records import JobRecord, JobView, RunControl, TextPipe
from noosd.scheduler.storage.journal import JobJournal, JournalEntry
from noosd.scheduler.storage.kvstore import KvStore

_log = logging.getLogger(__name__)

# CPU seconds without a beat that mean a generation or a load is stuck. A
# prefill batch (512 tokens) is one llama.cpp call with no beat between: 4.8 s
# a token in the slowest TCG guest met, ~2,450 s; well under a second here.
GENERATION_STUCK_AFTER_S = 3600.0
# How often time passes for the core when nothing else happens: pinned models
# that now fit, KV states to page, models to preload.
TICK_S = 1.0
ROLES = frozenset({"system", "user", "assistant", "tool"})


class EngineListener(Protocol):
    """What the D-Bus facade hears from the engine, on the event loop."""

    def job_token(self, record: JobRecord, text: str, tokens: int) -> None: ...

    def job_ended(self, record: JobRecord) -> None: ...

    def job_forgotten(self, job: JobId) -> None: ...

    def status_changed(self) -> None: ...


@dataclass(frozen=True)
class ModelView:
    spec: ModelSpec
    # "on-disk", "loading", "resident" or "busy" (resident, with jobs running).
    state: str
    running: int


class _Resident:
    """A loaded model: its runtime, which of its slots are given to jobs, and
    the locks their generation threads hold."""

    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime
        self.locks = [threading.Lock() for _ in range(runtime.spec.slots)]
        self.assigned: dict[int, JobId] = {}

    def assign(self, job: JobId) -> int:
        slot = next(s for s in range(len(self.locks)) if s not in self.assigned)
        self.assigned[slot] = job
        return slot

    def release(self, job: JobId) -> None:
        for slot, holder in list(self.assigned.items()):
            if holder == job:
                del self.assigned[slot]


class Engine:
    def __init__(
        self,
        catalog: Catalog,
        config: SchedulerConfig,
        kv_dir: Path,
        journal_path: Path,
        listener: EngineListener,
        predictor: ModelPredictor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.core = Scheduler(catalog, config, predictor)
        self._listener = listener
        self._clock = clock
        self._kv_dir = kv_dir
        self._kv: KvStore | None = None
        self._journal_path = journal_path
        self._job_journal: JobJournal | None = None
        self._backends: dict[BackendKind, Backend] = {}
        self._resident: dict[str, _Resident] = {}
        self._records: dict[JobId, JobRecord] = {}
        self._live: set[JobId] = set()
        self._finished: deque[JobId] = deque()
        self._controls: dict[JobId, RunControl] = {}
        self._state_ids = itertools.count(1)
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
        self._tokenizer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenizer")
        # Submits take turns at it by user: one user's burst does not delay another's question.
        self._tokenizer_turns = FairTurns()
        # Per owner, the requests waiting for the tokenizer or on it, and their
        # prompts' bytes: they count toward the owner's share of the queue.
        self._tokenizing_jobs: Counter[int] = Counter()
        self._tokenizing_bytes: Counter[int] = Counter()
        slots = sum(spec.slots for spec in catalog) or 1
        self._generators = {
            priority: ThreadPoolExecutor(
                max_workers=slots,
                thread_name_prefix=f"generate-{priority.name.lower()}",
            )
            for priority in Priority
        }
        self._runs: set[asyncio.Future[Outcome]] = set()
        self._priorities = GenerationPriorities()
        self.generating = WorkLoop("scheduler-generation", stuck_after_s=GENERATION_STUCK_AFTER_S)
        self.loading = WorkLoop("scheduler-loading", stuck_after_s=GENERATION_STUCK_AFTER_S)
        self._ticker: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # Life.

    def start(self) -> list[JobRecord]:
        """Start; the jobs the journal kept from before (see `_restore`)."""
        self._loop = asyncio.get_running_loop()
        self._kv = KvStore(self._kv_dir)
        self._job_journal = JobJournal.open(self._journal_path)
        restored = self._restore()
        self._tick()
        return restored

    def _restore(self) -> list[JobRecord]:
        """The journal's jobs, queued again under their ids and owners, in the
        order they came; those that had ended, as they ended. A job that was
        running starts again from its prompt (saved KV states do not outlive
        the process); its streams, if any, are gone with the process."""
        restored = []
        for entry in self._journal.entries():
            try:
                spec = self.core.catalog.get(entry.model)
                request = JobRequest(
                    owner=entry.owner,
                    model=spec.name,
                    priority=entry.priority,
                    max_tokens=entry.max_tokens,
                    prompt_tokens=len(entry.tokens)
                    or self._backend(spec).estimate_tokens(entry.prompt),
                    sampling=entry.sampling,
                    prompt_bytes=entry.prompt_bytes,
                )
                decisions = self.core.restore(
                    entry.job, request, self._clock(), entry.ended, entry.reason, entry.generated
                )
            except NoosError as error:
                _log.error(
                    "job %d of uid %d, kept from before the restart, is dropped: %s",
                    entry.job,
                    entry.owner,
                    error,
                )
                self._journal_forget(entry.job)
                continue
            record = self._new_record(entry)
            restored.append(record)
            if entry.ended is None:
                self._live.add(entry.job)
            else:
                record.pieces.append(entry.text)
                record.ended.set()
                self._finished.append(entry.job)
            self._execute(decisions)
        if restored:
            _log.info("%d jobs kept from before the restart", len(restored))
        return restored

    def _new_record(self, entry: JournalEntry, pipe: TextPipe | None = None) -> JobRecord:
        record = JobRecord(
            id=entry.job,
            owner=entry.owner,
            model=entry.model,
            prompt=entry.prompt,
            tokens=entry.tokens,
            sampling=entry.sampling,
            max_tokens=entry.max_tokens,
            submitted_wall=entry.submitted_wall,
            pipe=pipe,
        )
        self._records[entry.job] = record
        return record

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for control in self._controls.values():
            control.request(Stop.CANCEL)
        if self._runs:
            await asyncio.wait(self._runs, timeout=30)
        for generators in self._generators.values():
            generators.shutdown(wait=False, cancel_futures=True)
        for resident in self._resident.values():
            self._loader.submit(resident.runtime.close)
        self._loader.shutdown(wait=True, cancel_futures=False)
        self._tokenizer.shutdown(wait=False, cancel_futures=True)
        for record in self._records.values():
            if record.pipe is not None:
                record.pipe.close()
        self._states.close()
        self._journal.close()

    def _tick(self) -> None:
        self._event(self.core.tick)
        self._ticker = self._running_loop.call_later(TICK_S, self._tick)

    @property
    def _states(self) -> KvStore:
        if self._kv is None:
            raise RuntimeError("the engine has not started")
        return self._kv

    @property
    def _journal(self) -> JobJournal:
        if self._job_journal is None:
            raise RuntimeError("the engine has not started")
        return self._job_journal

    @property
    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the engine has not started")
        return self._loop

    # Callers' requests.

    async def submit(
        self,
        owner: int,
        prompt: Prompt,
        model: str,
        priority: Priority | None,
        max_tokens: int,
        sampling: Sampling,
        stream_fd: int | None = None,
    ) -> JobId:
        """A job for `owner`; `stream_fd`, if given, is the engine's to close."""
        pipe = TextPipe(stream_fd) if stream_fd is not None else None
        try:
            _check_prompt(prompt)
            spec = self.core.catalog.get(model)
            if max_tokens < 1:
                raise InvalidArgument(f"max_tokens must be >= 1, not {max_tokens}")
            prompt_bytes = prompt.size
            self.core.admit(
                owner,
                prompt_bytes,
                self._clock(),
                tokenizing_jobs=self._tokenizing_jobs[owner],
                tokenizing_bytes=self._tokenizing_bytes[owner],
            )
            tokens = await self._tokenize_for(owner, spec, prompt, prompt_bytes)
            count = len(tokens) or self._backend(spec).estimate_tokens(prompt)
            request = JobRequest(
                owner=owner,
                model=spec.name,
                priority=priority,
                max_tokens=max_tokens,
                prompt_tokens=count,
                sampling=sampling,
                prompt_bytes=prompt_bytes,
            )
            job, decisions = self.core.submit(request, self._clock())
        except BaseException:
            if pipe is not None:
                pipe.close()
            raise
        entry = JournalEntry(
            job=job,
            owner=owner,
            model=spec.name,
            priority=self.core.job(job, owner).priority,
            max_tokens=max_tokens,
            prompt=prompt,
            tokens=tuple(tokens),
            sampling=sampling,
            prompt_bytes=prompt_bytes,
            submitted_wall=time.time(),
        )
        self._new_record(entry, pipe)
        self._live.add(job)
        try:
            self._journal.add(entry)
        except (sqlite3.Error, OSError) as error:
            # Not acknowledged, so not kept: the job goes as if cancelled.
            self._execute(decisions)
            self.cancel(job, owner)
            raise Unavailable(
                f"the job could not be kept ({error}): nothing was queued; retry"
            ) from error
        self._execute(decisions)
        return job

    async def _tokenize_for(
        self, owner: int, spec: ModelSpec, prompt: Prompt, prompt_bytes: int
    ) -> list[int]:
        self._tokenizing_jobs[owner] += 1
        self._tokenizing_bytes[owner] += prompt_bytes
        try:
            return await self._tokenize(spec, prompt)
        finally:
            self._tokenizing_jobs[owner] -= 1
            self._tokenizing_bytes[owner] -= prompt_bytes
            if not self._tokenizing_jobs[owner]:
                del self._tokenizing_jobs[owner], self._tokenizing_bytes[owner]

    async def _tokenize(self, spec: ModelSpec, prompt: Prompt) -> list[int]:
        backend = self._backend(spec)
        try:
            async with self._tokenizer_turns.turn():
                return await self._running_loop.run_in_executor(
                    self._tokenizer, backend.tokenize, spec, prompt
                )
        except ModelLoadError as error:
            raise Unavailable(f"model {spec.name} cannot be used: {error}") from error

    def cancel(self, job: JobId, caller: int) -> None:
        self._event(lambda now: self.core.cancel(job, caller, now))

    def view(self, job: JobId, caller: int) -> JobView:
        info = self.core.job(job, caller)
        record = self._records[job]
        return JobView(info, record.text, record.submitted_wall, record.cached_tokens)

    async def wait(self, job: JobId, caller: int) -> JobView:
        self.core.job(job, caller)
        with waiting():  # a Wait holds no work slot (the runtime's wait budget bounds them)
            await self._records[job].ended.wait()
        return self.view(job, caller)

    def record(self, job: JobId, caller: int) -> JobRecord:
        self.core.job(job, caller)
        return self._records[job]

    def jobs_of(self, caller: int) -> list[JobId]:
        return [info.id for info in self.core.jobs_of(caller)]

    def load(self, model: str) -> None:
        self._event(lambda now: self.core.load(model, now))

    def unload(self, model: str) -> None:
        self._event(lambda now: self.core.unload(model, now))

    def pin(self, model: str, pinned: bool) -> None:
        self._event(lambda now: self.core.pin(model, pinned, now))

    def models(self, caller: int | None) -> list[ModelView]:
        """The catalog's models as `caller` may see them: whether each is
        loaded is the machine's, the jobs running on it are the caller's own
        (root: everyone's; no caller: none)."""
        stats = self.core.stats(self._clock())
        running: dict[str, int] = {}
        for job in self._jobs_seen_by(caller):
            if job.state is JobState.RUNNING:
                running[job.model] = running.get(job.model, 0) + 1
        views = []
        for spec in self.core.catalog:
            if spec.name in stats.loading:
                state = "loading"
            elif spec.name not in stats.resident:
                state = "on-disk"
            else:
                state = "busy" if running.get(spec.name) else "resident"
            views.append(ModelView(spec, state, running.get(spec.name, 0)))
        return views

    def jobs_load(self, caller: int | None) -> tuple[int, int]:
        """`caller`'s jobs waiting for a slot and running (root: everyone's;
        no caller: none)."""
        jobs = self._jobs_seen_by(caller)
        return (
            sum(1 for job in jobs if job.state is JobState.QUEUED),
            sum(1 for job in jobs if job.state is JobState.RUNNING),
        )

    def _jobs_seen_by(self, caller: int | None) -> list[JobInfo]:
        return [] if caller is None else self.core.jobs_of(caller)

    def stats(self) -> SchedulerStats:
        return self.core.stats(self._clock())

    @property
    def config(self) -> SchedulerConfig:
        """The budgets the core schedules within."""
        return self.core.config

    # Events: each asks the core, then carries out its decisions.

    def _event(self, happen: Callable[[float], Sequence[Decision] | None]) -> None:
        decisions = happen(self._clock()) or []
        self._execute(decisions)

    def _execute(self, decisions: Sequence[Decision]) -> None:
        for decision in decisions:
            match decision:
                case Load(model=model):
                    self._load(model)
                case Evict(model=model):
                    self._evict(model)
                case Start(job=job, model=model):
                    self._run(job, model, None)
                case Resume(job=job, model=model, state=state):
                    self._run(job, model, state)
                case Preempt(job=job, for_job=for_job):
                    self._stop(job, Stop.PREEMPT)
                    waiting_class = self.core.job(for_job, ROOT_UID).priority
                    self._priorities.hasten(job, waiting_class)
                case Cancel(job=job):
                    self._stop(job, Stop.CANCEL)
                case Reject():
                    pass  # the core ended the job; `_reap` tells its owner
                case PageOut(state=state):
                    self._states.page_out(state)
                case Drop(state=state):
                    self._states.drop(state)
        self._reap()
        self._listener.status_changed()

    def _reap(self) -> None:
        """Tell the owners of the jobs that ended; forget the oldest ended ones."""
        for job in list(self._live):
            record = self._records[job]
            if self.core.job(job, record.owner).state in TERMINAL:
                self._live.discard(job)
                self._journal_end(record)
                record.ended.set()
                if record.pipe is not None:
                    record.pipe.close()
                self._finished.append(job)
                self._listener.job_ended(record)
        while len(self._finished) > self.core.config.finished_kept:
            forgotten = self._finished.popleft()
            del self._records[forgotten]
            self._journal_forget(forgotten)
            self._listener.job_forgotten(forgotten)

    def _journal_end(self, record: JobRecord) -> None:
        info = self.core.job(record.id, record.owner)
        try:
            self._journal.end(record.id, info.state, record.text, info.reason, info.timings.tokens)
        except (sqlite3.Error, OSError) as error:
            _log.error(
                "the end of job %d is not kept (it runs again after a restart): %s",
                record.id,
                error,
            )

    def _journal_forget(self, job: JobId) -> None:
        try:
            self._journal.forget(job)
        except (sqlite3.Error, OSError) as error:
            _log.warning("job %d stays in the journal, to be forgotten again: %s", job, error)

    # Models.

    def _backend(self, spec: ModelSpec) -> Backend:
        if spec.backend not in self._backends:
            self._backends[spec.backend] = backend_for(spec.backend)()
        return self._backends[spec.backend]

    def _load(self, model: str) -> None:
        spec = self.core.catalog.get(model)
        loading = self._running_loop.run_in_executor(
            self._loader, self.loading.run, self._backend(spec).load, spec
        )
        loading.add_done_callback(lambda done: self._loaded(model, done))

    def _loaded(self, model: str, loading: asyncio.Future[ModelRuntime]) -> None:
        try:
            runtime = loading.result()
        except Exception as error:
            if not isinstance(error, ModelLoadError):
                _log.exception("loading model %s failed", model)
            _log.error("model %s failed to load: %s", model, error)
            reason = str(error) or type(error).__name__
            self._event(lambda now: self.core.on_load_failed(model, reason, now))
            return
        _log.info("model %s is resident", model)
        self._resident[model] = _Resident(runtime)
        self._event(lambda now: self.core.on_loaded(model, now))

    def _evict(self, model: str) -> None:
        resident = self._resident.pop(model)
        _log.info("evicting model %s", model)

        def close_when_idle() -> None:
            # A stopping job's thread may still be at its last token.
            with contextlib.ExitStack() as held:
                for lock in resident.locks:
                    held.enter_context(lock)
                resident.runtime.close()

        self._loader.submit(close_when_idle)

    # Runs.

    def _run(self, job: JobId, model: str, resume_from: str | None) -> None:
        record = self._records[job]
        resident = self._resident[model]
        slot = resident.assign(job)
        start_from = resume_from
        if resume_from is None and record.tokens:
            hit = self.core.reusable_state(job, prefix_blocks(record.tokens), self._clock())
            if hit is not None:
                start_from, record.cached_tokens = hit.state, hit.tokens
        control = RunControl(record, self._running_loop, self._on_emit)
        self._controls[job] = control
        priority = self.core.job(job, record.owner).priority

        def generate() -> Outcome:
            with (
                self.generating.working(),
                self._priorities.running(job, priority),
                resident.locks[slot],
            ):
                start = self._states.get(start_from) if start_from is not None else None
                if resume_from is not None:
                    self._states.drop(resume_from)  # the job's own state: restored, then freed
                generation = Generation(
                    prompt=record.prompt,
                    tokens=record.tokens,
                    sampling=record.sampling,
                    max_tokens=record.max_tokens,
                    owner=record.owner,
                    generated=record.generated,
                    streamed=record.text,
                    start=start,
                )
                return resident.runtime.generate(slot, generation, control)

        run = self._running_loop.run_in_executor(self._generators[priority], generate)
        self._runs.add(run)
        run.add_done_callback(lambda done: self._ran(record, resident, done))

    def _stop(self, job: JobId, stop: Stop) -> None:
        control = self._controls.get(job)
        if control is not None:
            control.request(stop)
        resident = self._resident.get(self._records[job].model)
        if resident is not None:
            resident.release(job)

    def _on_emit(self, record: JobRecord, text: str, tokens: int) -> None:
        if record.id not in self._live:
            return
        record.pieces.append(text)
        self.core.on_token(record.id, self._clock(), tokens)
        self._listener.job_token(record, text, tokens)

    def _ran(self, record: JobRecord, resident: _Resident, run: asyncio.Future[Outcome]) -> None:
        self._runs.discard(run)
        if self._controls.get(record.id) is not None:
            del self._controls[record.id]
        resident.release(record.id)
        job = record.id
        try:
            outcome = run.result()
        except asyncio.CancelledError:
            return
        except Exception as error:
            if not isinstance(error, GenerationError):
                _log.exception("job %d failed", job)
            reason = str(error) or type(error).__name__
            self._event(lambda now: self.core.on_failed(job, reason, now))
            return
        match outcome.ending:
            case Ending.FINISHED:
                kept = self._keep(record.model, outcome.state, shared=True)
                self._event(lambda now: self.core.on_finished(job, now, kept))
            case Ending.PREEMPTED:
                record.generated = outcome.generated
                state = outcome.state or KvState(b"", ())
                saved = self._keep(record.model, state, shared=False)
                assert saved is not None
                self._event(lambda now: self.core.on_preempted(job, saved, now))
            case Ending.CANCELLED:
                self._listener.status_changed()

    def _keep(self, model: str, state: KvState | None, *, shared: bool) -> SavedState | None:
        if state is None:
            return None
        state_id = f"{os.getpid()}-{next(self._state_ids)}"
        self._states.put(state_id, state)
        blocks = prefix_blocks(state.tokens) if shared else ()
        return SavedState(state_id, model, state.size, blocks)


def _check_prompt(prompt: Prompt) -> None:
    if bool(prompt.messages) == bool(prompt.text):
        raise InvalidArgument("give either chat messages or a prompt, not both, not neither")
    for message in prompt.messages:
        if message.role not in ROLES:
            raise InvalidArgument(
                f"unknown role {message.role!r}; the roles are {', '.join(sorted(ROLES))}"
            )
    if prompt.messages and not any(m.content.strip() for m in prompt.messages):
        raise InvalidArgument("the messages are all empty")
    if prompt.text and not prompt.text.strip():
        raise InvalidArgument("the prompt is empty")
