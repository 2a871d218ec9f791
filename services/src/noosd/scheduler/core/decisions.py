"""What the scheduler tells its backend to do, as values.

Every event the scheduler handles returns a list of decisions, and the backend
carries them out in that order: the scheduler counts a decision's effect
(memory, threads, a slot) as done when it makes it, so that order is what keeps
the budgets. `Evict` comes before the `Load` it makes room for, and `Preempt`
before the `Start` of the job it makes room for: the backend lets the
preempted job reach its next token boundary and saves its KV state first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from noosd.scheduler.core.jobs import JobId


class StateLocation(StrEnum):
    """Where a saved KV state lies."""

    RAM = "ram"
    DISK = "disk"


@dataclass(frozen=True)
class Load:
    """Load the model; report `on_loaded` or `on_load_failed`."""

    model: str


@dataclass(frozen=True)
class Evict:
    """Unload the model and free its memory (it has no job)."""

    model: str


@dataclass(frozen=True)
class Start:
    """Run the job from its prompt; report `on_token`s, then `on_finished` or `on_failed`."""

    job: JobId
    model: str


@dataclass(frozen=True)
class Resume:
    """Run a preempted job on from the KV state saved when it was preempted, not
    from its prompt; the backend frees that state once it has restored it."""

    job: JobId
    model: str
    state: str
    location: StateLocation


@dataclass(frozen=True)
class Preempt:
    """At the job's next token boundary, stop it and save its KV state, then
    report `on_preempted` with the state; `for_job` is the job it makes room for."""

    job: JobId
    for_job: JobId


@dataclass(frozen=True)
class Cancel:
    """Stop the running job at its next token boundary and keep nothing of it."""

    job: JobId


@dataclass(frozen=True)
class Reject:
    """The job failed before it could run; tell its owner why."""

    job: JobId
    reason: str


@dataclass(frozen=True)
class PageOut:
    """Move the KV state from RAM to disk."""

    state: str


@dataclass(frozen=True)
class Drop:
    """Delete the KV state, wherever it lies."""

    state: str


Decision = Load | Evict | Start | Resume | Preempt | Cancel | Reject | PageOut | Drop
