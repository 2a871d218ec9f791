"""Jobs: what a caller asks the scheduler to run, and the scheduler's record of it.

A job is one generation: a prompt of (an estimated) `prompt_tokens` to which a
model adds at most `max_tokens`. Its life:

    QUEUED ──> LOADING ──> RUNNING ──> DONE | FAILED
       │  └────────────────^  │  ^
       │                      v  │ (Resume, from its saved KV state)
       │                   PREEMPTED
       └──> CANCELLED  (from any state but a terminal one)

LOADING means the job holds its slot and threads and waits for its model to
load. The work of a job, the unit of fair share and of throughput, is its
generated tokens plus `prefill_weight` per prompt token: evaluating a prompt
costs a fraction of generating as many tokens (it runs batched).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Container
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NewType

from noos.protocol.errors import InvalidArgument, NotFound

JobId = NewType("JobId", int)
# A job's id is random, of this many bits (the protocol's `t`): an id says
# nothing of how many jobs came before, and hitting one by chance takes about
# 2**64 / (jobs alive) tries.
JOB_ID_BITS = 64
# What a call on a job that is not the caller's, or not at all, is told.
NO_SUCH_JOB = "there is no such job"
ROOT_UID = 0
MAX_UID = 2**32 - 1
# The model a request names when it leaves the choice to the catalog.
DEFAULT_MODEL = "default"


def random_job_id(taken: Container[int]) -> JobId:
    """A new job's id: random, never 0, and none of `taken`."""
    while (job_id := secrets.randbits(JOB_ID_BITS)) == 0 or job_id in taken:
        pass
    return JobId(job_id)


class Priority(IntEnum):
    """Scheduling classes; a larger value runs first and may preempt a smaller one."""

    BATCH = 0
    NORMAL = 1
    INTERACTIVE = 2

    @classmethod
    def parse(cls, name: str) -> Priority:
        try:
            return cls[name.upper()]
        except KeyError:
            names = ", ".join(p.name.lower() for p in cls)
            raise InvalidArgument(
                f"unknown priority {name!r}; the priorities are {names}"
            ) from None


class JobState(StrEnum):
    QUEUED = "queued"
    LOADING = "loading"
    RUNNING = "running"
    PREEMPTED = "preempted"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL = frozenset({JobState.DONE, JobState.CANCELLED, JobState.FAILED})


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn. Not part of what makes a model resident: any job may
    use any sampling on a loaded model without reloading it."""

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 40
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and 0 <= self.temperature <= 10):
            raise InvalidArgument(f"temperature must be in [0, 10], not {self.temperature}")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise InvalidArgument(f"top_p must be in (0, 1], not {self.top_p}")
        if self.top_k < 0:
            raise InvalidArgument(f"top_k must be >= 0 (0: no limit), not {self.top_k}")


@dataclass(frozen=True)
class JobRequest:
    """A caller's request. `priority` None takes the model's default class."""

    owner: int
    model: str = DEFAULT_MODEL
    priority: Priority | None = None
    max_tokens: int = 256
    prompt_tokens: int = 0
    sampling: Sampling = field(default_factory=Sampling)
    # The prompt's size in UTF-8 bytes, as the caller sent it.
    prompt_bytes: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.owner <= MAX_UID:
            raise InvalidArgument(f"a uid must be in [0, {MAX_UID}], not {self.owner}")
        if not self.model:
            raise InvalidArgument(f"name a model, or {DEFAULT_MODEL!r}")
        if self.max_tokens < 1:
            raise InvalidArgument(f"max_tokens must be >= 1, not {self.max_tokens}")
        if self.prompt_tokens < 0:
            raise InvalidArgument(f"prompt_tokens must be >= 0, not {self.prompt_tokens}")
        if self.prompt_bytes < 0:
            raise InvalidArgument(f"prompt_bytes must be >= 0, not {self.prompt_bytes}")


@dataclass(frozen=True)
class JobTimings:
    """When a job went through its life, in the scheduler's clock (seconds)."""

    submitted_at: float
    started_at: float | None
    first_token_at: float | None
    finished_at: float | None
    tokens: int
    # Time spent preempted, which says nothing of the model's speed.
    paused_s: float

    @property
    def time_to_first_token(self) -> float | None:
        if self.first_token_at is None:
            return None
        return self.first_token_at - self.submitted_at

    @property
    def tokens_per_s(self) -> float | None:
        """The generation rate after the first token, pauses left out."""
        if self.first_token_at is None or self.finished_at is None or self.tokens < 2:
            return None
        seconds = self.finished_at - self.first_token_at - self.paused_s
        return (self.tokens - 1) / seconds if seconds > 0 else None


@dataclass(frozen=True)
class JobInfo:
    """What a job's owner (or root) may read of it."""

    id: JobId
    owner: int
    model: str
    priority: Priority
    max_tokens: int
    prompt_tokens: int
    state: JobState
    timings: JobTimings
    # Why the job failed, when it did.
    reason: str


@dataclass(eq=False)
class Job:
    """The scheduler's live record of a job; only the scheduler changes it."""

    id: JobId
    owner: int
    model: str
    priority: Priority
    max_tokens: int
    prompt_tokens: int
    sampling: Sampling
    submitted_at: float
    prompt_bytes: int = 0
    # Rises with every submission: first come, first served among equals
    # (the id, random, says nothing of the order).
    submission: int = 0
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    tokens: int = 0
    paused_s: float = 0.0
    preempted_at: float | None = None
    # The id of the KV state a preempted job resumes from, once the backend saved it.
    saved_state: str | None = None
    # Rises with every start and resume: the latest started is preempted first.
    run_order: int = 0
    reason: str = ""

    def work(self, prefill_weight: float) -> float:
        """The work the job asks for at most."""
        return self.max_tokens + prefill_weight * self.prompt_tokens

    def work_done(self, prefill_weight: float) -> float:
        prefill = self.prompt_tokens if self.first_token_at is not None else 0
        return self.tokens + prefill_weight * prefill

    def info(self) -> JobInfo:
        return JobInfo(
            id=self.id,
            owner=self.owner,
            model=self.model,
            priority=self.priority,
            max_tokens=self.max_tokens,
            prompt_tokens=self.prompt_tokens,
            state=self.state,
            timings=JobTimings(
                submitted_at=self.submitted_at,
                started_at=self.started_at,
                first_token_at=self.first_token_at,
                finished_at=self.finished_at,
                tokens=self.tokens,
                paused_s=self.paused_s,
            ),
            reason=self.reason,
        )


def ensure_may_access(job: Job, caller: int) -> None:
    """A job is its owner's: only they and root may read or cancel it. To
    anyone else it does not exist: the same error as for no job at all, so
    that the answer does not tell which ids are taken."""
    if caller not in (job.owner, ROOT_UID):
        raise NotFound(NO_SUCH_JOB)
