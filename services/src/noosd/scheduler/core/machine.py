"""The scheduler: an event-driven state machine that turns events into decisions.

The backend layer reports what happened, with the time it happened at (the
scheduler reads no clock), and carries out the decisions each report returns,
in order (see `decisions`):

    admit(owner, prompt_bytes, now)   before tokenizing: InvalidArgument / Busy, as submit would
    submit(request, now)              a caller's job; its id, or Busy / NotFound / InvalidArgument
    restore(job, request, now, ...)   a journalled job after a restart, under its id
    cancel(job, caller, now)          by its owner or root, else NotFound (as for no job)
    on_loaded(model, now)             a Load is done
    on_load_failed(model, reason, now)
    on_token(job, now, count)         the job made tokens (nothing to decide)
    on_preempted(job, state, now)     a Preempt is done; the job's KV state is saved
    on_finished(job, now, kept)       the job ended; `kept` is its final KV state, if kept
    on_failed(job, reason, now)
    tick(now)                         time passed: pinned loads, paging, preloading

and root's requests: `load(model, now)`, `unload(model, now)`, `pin(model, pinned, now)`.

and may ask `reusable_state(job, blocks, now)`, when it starts a job, for a
saved state holding a prefix of its prompt. After every event the scheduler
settles: it gives compute to the waiting jobs in policy order (preempting
lower classes when that lets a job run), then brings saved KV states within
their budgets, then preloads the predicted next model into free memory.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum, auto

from noos.protocol.errors import Busy, InvalidArgument, NotFound
from noosd.scheduler.core.capacity import Capacity
from noosd.scheduler.core.catalog import Catalog, ModelSpec
from noosd.scheduler.core.config import (
    PROMPT_BYTES_PER_TOKEN,
    QUEUED_PROMPTS_OF_MAX_SIZE,
    SchedulerConfig,
)
from noosd.scheduler.core.decisions import (
    Cancel,
    Decision,
    Drop,
    Evict,
    Load,
    Preempt,
    Reject,
    Resume,
    Start,
)
from noosd.scheduler.core.jobs import (
    NO_SUCH_JOB,
    ROOT_UID,
    TERMINAL,
    Job,
    JobId,
    JobInfo,
    JobRequest,
    JobState,
    ensure_may_access,
    random_job_id,
)
from noosd.scheduler.core.kvcache import KvCache, PrefixHit, SavedState
from noosd.scheduler.core.policy import RunQueue, preemption_victims
from noosd.scheduler.core.prediction import ModelPredictor
from noosd.scheduler.core.residency import Phase, Residency
from noosd.scheduler.core.throughput import ThroughputMeter, retry_after


class _Shortage(Enum):
    SLOT = auto()
    THREADS = auto()
    MEMORY = auto()


@dataclass(frozen=True)
class SchedulerStats:
    queued: int
    running: int
    threads_used: int
    ram_used: int
    vram_used: int
    resident: tuple[str, ...]
    loading: tuple[str, ...]
    kv_ram_used: int
    kv_disk_used: int
    work_per_s: float
    predictions: int
    prediction_hits: int
    # hits / predictions; None before the first prediction is scored.
    prediction_hit_rate: float | None


class Scheduler:
    def __init__(
        self,
        catalog: Catalog,
        config: SchedulerConfig | None = None,
        predictor: ModelPredictor | None = None,
    ) -> None:
        """`predictor`: one that learnt from earlier jobs (the facade may keep
        its history across restarts); a new one by default."""
        self.catalog = catalog
        self.config = config = config or SchedulerConfig()
        longest_context = max((spec.context_length for spec in catalog), default=0)
        self.max_prompt_bytes = config.max_prompt_bytes or PROMPT_BYTES_PER_TOKEN * longest_context
        self.max_queued_prompt_bytes_per_user = (
            config.max_queued_prompt_bytes_per_user
            or QUEUED_PROMPTS_OF_MAX_SIZE * self.max_prompt_bytes
        )
        self._jobs: dict[JobId, Job] = {}
        self._finished: deque[JobId] = deque()
        self._submissions = 0
        self._run_order = 0
        self._queue = RunQueue(config.prefill_weight)
        self._capacity = Capacity(config.cpu_threads)
        self._residency = Residency(config.ram_bytes, config.vram_bytes, config.idle_half_life_s)
        self._kv = KvCache(config.kv_ram_bytes, config.kv_disk_bytes)
        self._predictor = predictor or ModelPredictor(utc_offset_s=config.utc_offset_s)
        self._throughput = ThroughputMeter(config.throughput_window_s, config.assumed_work_per_s)
        # Models root unloaded: not preloaded again until a job asks for them.
        self._unloaded: set[str] = set()

    # Events.

    def admit(
        self,
        owner: int,
        prompt_bytes: int,
        now: float,
        *,
        tokenizing_jobs: int = 0,
        tokenizing_bytes: int = 0,
    ) -> None:
        """Refuse a request as `submit` would for its prompt's size or its owner's
        share of the queue, before its prompt is tokenized: tokenizing runs on
        one thread for everyone, and a refused prompt must not take it. The
        owner's requests still being tokenized (`tokenizing_jobs`, of
        `tokenizing_bytes`) count as waiting."""
        self._check_size(prompt_bytes)
        self._check_room(owner, now, tokenizing_jobs, tokenizing_bytes + prompt_bytes)

    def submit(self, request: JobRequest, now: float) -> tuple[JobId, list[Decision]]:
        model = self.catalog.get(request.model)
        self._check_size(request.prompt_bytes)
        self._check_runnable(request, model)
        self._check_room(request.owner, now, 0, request.prompt_bytes)
        job = self._new_job(random_job_id(self._jobs), request, model, now)
        self._queue.add(job)
        return job.id, self._settle(now)

    def restore(
        self,
        job_id: JobId,
        request: JobRequest,
        now: float,
        ended: JobState | None = None,
        reason: str = "",
        tokens: int = 0,
    ) -> list[Decision]:
        """A job acknowledged before a restart (the engine's journal), under its
        id and owner, behind those restored before it: queued again, or kept as
        it ended (`ended`, `reason`, its `tokens`). It was admitted once: only a
        catalog that changed since refuses it (NotFound, InvalidArgument)."""
        model = self.catalog.get(request.model)
        self._check_runnable(request, model)
        job = self._new_job(job_id, request, model, now)
        if ended is None:
            self._queue.add(job)
            return self._settle(now)
        job.state, job.finished_at, job.reason, job.tokens = ended, now, reason, tokens
        self._keep_finished(job)
        return []

    def _new_job(self, job_id: JobId, request: JobRequest, model: ModelSpec, now: float) -> Job:
        job = Job(
            id=job_id,
            owner=request.owner,
            model=model.name,
            priority=model.priority if request.priority is None else request.priority,
            max_tokens=request.max_tokens,
            prompt_tokens=request.prompt_tokens,
            sampling=request.sampling,
            submitted_at=now,
            prompt_bytes=request.prompt_bytes,
            submission=self._submissions,
        )
        self._submissions += 1
        self._jobs[job.id] = job
        self._unloaded.discard(model.name)
        self._predictor.observe(model.name, now)
        return job

    def cancel(self, job_id: JobId, caller: int, now: float) -> list[Decision]:
        """Cancel a job of the caller's (root: anyone's); a finished job stays as it ended."""
        job = self._job(job_id)
        ensure_may_access(job, caller)
        if job.state in TERMINAL:
            return []
        stopping = job.state is JobState.RUNNING or self._saving(job)
        decisions: list[Decision] = [Cancel(job.id)] if stopping else []
        return decisions + self._end(job, JobState.CANCELLED, now) + self._settle(now)

    def on_loaded(self, model: str, now: float) -> list[Decision]:
        if self._residency.phase(model) is not Phase.LOADING:
            return []
        self._residency.loaded(model, now)
        waiting = [
            j for j in self._jobs.values() if j.state is JobState.LOADING and j.model == model
        ]
        decisions: list[Decision] = [self._run(job, now) for job in waiting]
        return decisions + self._settle(now)

    def on_load_failed(self, model: str, reason: str, now: float) -> list[Decision]:
        """Every job waiting for the model fails: it would only fail the same way again."""
        if self._residency.phase(model) is not Phase.LOADING:
            return []
        self._residency.forget(model)
        decisions: list[Decision] = []
        waiting = (JobState.QUEUED, JobState.LOADING, JobState.PREEMPTED)
        for job in [j for j in self._jobs.values() if j.model == model and j.state in waiting]:
            why = f"model {model} failed to load: {reason}"
            decisions += self._end(job, JobState.FAILED, now, why)
            decisions.append(Reject(job.id, why))
        return decisions + self._settle(now)

    def on_token(self, job_id: JobId, now: float, count: int = 1) -> None:
        job = self._job(job_id)
        if job.state in TERMINAL:
            return
        if job.first_token_at is None:
            job.first_token_at = now
            self._throughput.record(self.config.prefill_weight * job.prompt_tokens, now)
        job.tokens += count
        self._throughput.record(count, now)

    def on_preempted(self, job_id: JobId, state: SavedState, now: float) -> list[Decision]:
        job = self._job(job_id)
        if not self._saving(job):
            # Cancelled while it was being saved: the state is of no use.
            return [Drop(state.id)]
        self._kv.keep(state, job.owner, now, held=True)
        job.saved_state = state.id
        return self._settle(now)

    def on_finished(
        self, job_id: JobId, now: float, kept: SavedState | None = None
    ) -> list[Decision]:
        """The job made its last token (a job told to preempt may finish first)."""
        job = self._job(job_id)
        if job.state in TERMINAL:
            return [Drop(kept.id)] if kept else []
        decisions = self._end(job, JobState.DONE, now)
        if kept is not None:
            self._kv.keep(kept, job.owner, now, held=False)
        return decisions + self._settle(now)

    def on_failed(self, job_id: JobId, reason: str, now: float) -> list[Decision]:
        job = self._job(job_id)
        if job.state in TERMINAL:
            return []
        return self._end(job, JobState.FAILED, now, reason) + self._settle(now)

    def tick(self, now: float) -> list[Decision]:
        return self._load_pinned(now) + self._settle(now)

    # Root's requests.

    def load(self, name: str, now: float) -> list[Decision]:
        """Load a model ahead of its jobs; Busy while the models that would have
        to go for it are running jobs."""
        model = self.catalog.get(name)
        if not self._residency.can_ever_hold(model):
            raise InvalidArgument(f"model {name} needs more memory than the scheduler may use")
        if self._residency.phase(model.name) is not Phase.ABSENT:
            return []
        if self._residency.plan(model, self._capacity.busy_models(), now) is None:
            raise Busy(
                f"model {name} fits only once models with running jobs are done",
                retry_after=self.config.retry_bounds_s[0],
            )
        return self._load(model, now) + self._settle(now)

    def unload(self, name: str, now: float) -> list[Decision]:
        """Evict a model now: not a pinned one, nor one that jobs hold."""
        model = self.catalog.get(name)
        phase = self._residency.phase(model.name)
        if phase is Phase.ABSENT:
            return []
        if model.pinned:
            raise InvalidArgument(f"model {name} is pinned: unpin it first")
        if phase is Phase.LOADING or model.name in self._capacity.busy_models():
            raise Busy(
                f"model {name} has jobs running or waiting for it",
                retry_after=self.config.retry_bounds_s[0],
            )
        self._residency.forget(model.name)
        self._unloaded.add(model.name)
        return [Evict(model.name), *self._settle(now)]

    def pin(self, name: str, pinned: bool, now: float) -> list[Decision]:
        """Pin a model (it loads when it fits and is never evicted) or unpin it."""
        model = replace(self.catalog.get(name), pinned=pinned)
        self.catalog = self.catalog.replaced(model)
        self._residency.respecified(model)
        return self.tick(now)

    # Queries.

    def job(self, job_id: JobId, caller: int) -> JobInfo:
        job = self._job(job_id)
        ensure_may_access(job, caller)
        return job.info()

    def jobs_of(self, caller: int) -> list[JobInfo]:
        """The caller's jobs, live and recently finished (root: everyone's)."""
        return [j.info() for j in self._jobs.values() if caller in (j.owner, ROOT_UID)]

    def reusable_state(
        self, job_id: JobId, blocks: Sequence[bytes], now: float
    ) -> PrefixHit | None:
        """A saved state of the job's model holding the longest prefix of its prompt
        (`kvcache.prefix_blocks` of its tokens), to start from: one that a job
        of the same owner left, never another user's."""
        job = self._job(job_id)
        return self._kv.lookup(job.owner, job.model, blocks, now)

    def stats(self, now: float) -> SchedulerStats:
        return SchedulerStats(
            queued=sum(1 for job in self._queue if job.state is JobState.QUEUED),
            running=sum(1 for job in self._jobs.values() if job.state is JobState.RUNNING),
            threads_used=self._capacity.threads_used(),
            ram_used=self._residency.ram_used,
            vram_used=self._residency.vram_used,
            resident=tuple(self._residency.models(Phase.RESIDENT)),
            loading=tuple(self._residency.models(Phase.LOADING)),
            kv_ram_used=self._kv.ram_used,
            kv_disk_used=self._kv.disk_used,
            work_per_s=self._throughput.rate(now),
            predictions=self._predictor.predictions,
            prediction_hits=self._predictor.hits,
            prediction_hit_rate=self._predictor.hit_rate,
        )

    # Admission.

    def _check_runnable(self, request: JobRequest, model: ModelSpec) -> None:
        tokens = request.prompt_tokens + request.max_tokens
        if tokens > model.context_length:
            raise InvalidArgument(
                f"prompt_tokens + max_tokens = {tokens} exceed model {model.name}'s "
                f"context of {model.context_length} tokens"
            )
        if model.threads > self.config.cpu_threads:
            raise InvalidArgument(
                f"model {model.name} needs {model.threads} threads per job; "
                f"the scheduler has {self.config.cpu_threads}"
            )
        if not self._residency.can_ever_hold(model):
            raise InvalidArgument(
                f"model {model.name} needs more memory than the scheduler may use "
                f"({model.ram_bytes} bytes of RAM, {model.vram_bytes} of VRAM)"
            )

    def _check_size(self, prompt_bytes: int) -> None:
        if prompt_bytes > self.max_prompt_bytes:
            raise InvalidArgument(
                f"the prompt is {prompt_bytes} bytes; the most is {self.max_prompt_bytes} "
                f"(UTF-8; {PROMPT_BYTES_PER_TOKEN} bytes per token of the longest model context "
                "unless max_prompt_bytes says otherwise)"
            )

    def _check_room(self, uid: int, now: float, more_jobs: int, more_bytes: int) -> None:
        """Busy if the user's waiting jobs, with `more_jobs` and `more_bytes` of
        prompts, would be over their share, or the queue is full."""
        queued = [job for job in self._queue if job.state is JobState.QUEUED]
        rate = self._throughput.rate(now)
        work = [job.work(self.config.prefill_weight) for job in queued]
        mine = [job for job in queued if job.owner == uid]
        waiting = len(mine) + more_jobs
        sharing = len({job.owner for job in queued})
        if waiting >= self.config.max_queued_per_user:
            raise Busy(
                f"you have {waiting} jobs waiting, the most one user may",
                retry_after=retry_after(work, rate, sharing, self.config.retry_bounds_s),
            )
        waiting_bytes = sum(job.prompt_bytes for job in mine) + more_bytes
        # With nothing else waiting, a prompt within max_prompt_bytes always fits.
        if waiting and waiting_bytes > self.max_queued_prompt_bytes_per_user:
            raise Busy(
                f"you would have {waiting_bytes} bytes of prompts waiting; one user may have "
                f"{self.max_queued_prompt_bytes_per_user}",
                retry_after=retry_after(work, rate, sharing, self.config.retry_bounds_s),
            )
        if len(queued) >= self.config.max_queued:
            raise Busy(
                f"the queue is full ({len(queued)} jobs waiting)",
                retry_after=retry_after(work, rate, 1, self.config.retry_bounds_s),
            )

    # Settling.

    def _settle(self, now: float) -> list[Decision]:
        decisions = self._dispatch(now)
        decisions += self._kv.paging(now)
        return decisions + self._preload(now)

    def _dispatch(self, now: float) -> list[Decision]:
        """Give compute to waiting jobs in policy order.

        A job that cannot have the threads it needs, or the memory, keeps later
        jobs from taking them (they would starve it); one whose model has no
        free slot keeps nothing from jobs of other models.
        """
        decisions: list[Decision] = []
        threads_blocked = memory_blocked = False
        holding = (JobState.RUNNING, JobState.LOADING)  # a slot each
        held = Counter(j.owner for j in self._jobs.values() if j.state in holding)
        for job in self._queue.in_order(held):
            if self._saving(job):
                continue
            model = self.catalog.get(job.model)
            absent = self._residency.phase(model.name) is Phase.ABSENT
            if (threads_blocked and model.threads) or (memory_blocked and absent):
                continue
            victims: list[Job] = []
            shortage = self._shortage(model, victims, now)
            if shortage is not None:
                running = [j for j in self._jobs.values() if j.state is JobState.RUNNING]
                found = preemption_victims(job, running, self._frees_room(model, now))
                if found is None:
                    threads_blocked |= shortage is _Shortage.THREADS
                    memory_blocked |= shortage is _Shortage.MEMORY
                    continue
                victims = found
            decisions += self._preempt(victims, job, now)
            decisions += self._commit(job, model, now)
        return decisions

    def _shortage(self, model: ModelSpec, victims: list[Job], now: float) -> _Shortage | None:
        """What keeps a job of `model` from running, were the victims preempted."""
        gone = {victim.id for victim in victims}
        if not self._capacity.has_slot(model, gone):
            return _Shortage.SLOT
        if not self._capacity.has_threads(model, gone):
            return _Shortage.THREADS
        if self._residency.phase(model.name) is Phase.ABSENT:
            busy = self._capacity.busy_models(gone)
            if self._residency.plan(model, busy, now) is None:
                return _Shortage.MEMORY
        return None

    def _frees_room(self, model: ModelSpec, now: float) -> Callable[[list[Job]], bool]:
        """Whether preempting some jobs would let a job of `model` run."""
        return lambda victims: self._shortage(model, victims, now) is None

    def _preempt(self, victims: list[Job], for_job: Job, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        for victim in victims:
            self._capacity.release(victim.id)
            self._residency.touch(victim.model, now)
            victim.state = JobState.PREEMPTED
            victim.preempted_at = now
            self._queue.add(victim)
            decisions.append(Preempt(victim.id, for_job.id))
        return decisions

    def _commit(self, job: Job, model: ModelSpec, now: float) -> list[Decision]:
        """The job takes its slot and threads, and its model loads if it must."""
        decisions: list[Decision] = []
        self._queue.remove(job)
        self._capacity.hold(job.id, model)
        if self._residency.phase(model.name) is Phase.ABSENT:
            decisions += self._load(model, now)
        if self._residency.phase(model.name) is Phase.RESIDENT:
            decisions.append(self._run(job, now))
        else:
            job.state = JobState.LOADING
        return decisions

    def _load(self, model: ModelSpec, now: float) -> list[Decision]:
        """Evict what must go for the model to fit (`_shortage` checked it can), and load it."""
        evictions = self._residency.plan(model, self._capacity.busy_models(), now) or []
        decisions: list[Decision] = []
        for evicted in evictions:
            self._residency.forget(evicted)
            decisions.append(Evict(evicted))
        self._residency.begin_load(model, now)
        decisions.append(Load(model.name))
        return decisions

    def _run(self, job: Job, now: float) -> Start | Resume:
        self._run_order += 1
        job.run_order = self._run_order
        job.state = JobState.RUNNING
        self._residency.touch(job.model, now)
        if job.saved_state is not None:
            state, job.saved_state = job.saved_state, None
            if job.preempted_at is not None:
                job.paused_s += now - job.preempted_at
                job.preempted_at = None
            return Resume(job.id, job.model, state, self._kv.take(state))
        job.started_at = now
        self._queue.charge(job, job.work(self.config.prefill_weight))
        return Start(job.id, job.model)

    def _end(self, job: Job, state: JobState, now: float, reason: str = "") -> list[Decision]:
        """Take the job out of the queue and give back what it held; the decision
        to delete its saved state, if it had one."""
        decisions: list[Decision] = []
        self._queue.remove(job)
        self._capacity.release(job.id)
        if job.started_at is not None:
            weight = self.config.prefill_weight
            self._queue.charge(job, -max(0.0, job.work(weight) - job.work_done(weight)))
        if self._residency.phase(job.model) is Phase.RESIDENT:
            self._residency.touch(job.model, now)
        if job.saved_state is not None:
            decisions += self._kv.drop(job.saved_state)
            job.saved_state = None
        job.state = state
        job.finished_at = now
        job.reason = reason
        self._keep_finished(job)
        return decisions

    def _keep_finished(self, job: Job) -> None:
        """Keep an ended job for its owner to read; forget the oldest past finished_kept."""
        self._finished.append(job.id)
        while len(self._finished) > self.config.finished_kept:
            del self._jobs[self._finished.popleft()]

    def _load_pinned(self, now: float) -> list[Decision]:
        decisions: list[Decision] = []
        for model in self.catalog:
            if not model.pinned or self._residency.phase(model.name) is not Phase.ABSENT:
                continue
            if self._residency.plan(model, self._capacity.busy_models(), now) is not None:
                decisions += self._load(model, now)
        return decisions

    def _preload(self, now: float) -> list[Decision]:
        """Load the predicted next model if it fits in the memory that is free
        and that no waiting job's model will need."""
        predicted = self._predictor.predict(now)
        if (
            not self.config.preload
            or predicted is None
            or predicted not in self.catalog
            or predicted in self._unloaded
        ):
            return []
        if self._residency.phase(predicted) is not Phase.ABSENT:
            return []
        wanted = {job.model for job in self._queue} | {predicted}
        models = [self.catalog.get(name) for name in sorted(wanted)]
        if not self._residency.fits_free(
            [m for m in models if self._residency.phase(m.name) is Phase.ABSENT]
        ):
            return []
        self._residency.begin_load(self.catalog.get(predicted), now)
        return [Load(predicted)]

    # Helpers.

    def _job(self, job_id: JobId) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise NotFound(NO_SUCH_JOB) from None

    @staticmethod
    def _saving(job: Job) -> bool:
        """Whether the job was told to preempt and its KV state is not saved yet."""
        return job.state is JobState.PREEMPTED and job.saved_state is None
