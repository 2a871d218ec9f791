"""Random workloads against a simulated backend that carries out every decision
in order: whatever happens, no model runs more jobs than its slots, running
jobs never use more threads than the budget, models never more memory, KV
states never more RAM; a job resumes only from the state saved for it, and
every job ends."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable

import pytest

from noos.protocol.errors import Busy, NotFound
from noosd.scheduler.core import (
    Cancel,
    Decision,
    Drop,
    Evict,
    JobId,
    JobState,
    Load,
    PageOut,
    Preempt,
    Priority,
    Reject,
    Resume,
    SavedState,
    Scheduler,
    Start,
)
from noosd.scheduler.core.catalog import Backend
from noosd.scheduler.core.jobs import TERMINAL
from tests.unit.scheduler.fakes import MB, model, scheduler, submit

MODELS = {
    m.name: m
    for m in (
        model("small", ram_bytes=600 * MB, slots=2, load_seconds=1.0, default=True),
        model("mid", ram_bytes=1000 * MB, load_seconds=2.0),
        model("wide", ram_bytes=1200 * MB, threads=2, load_seconds=3.0),
        model("pinned", ram_bytes=300 * MB, pinned=True, load_seconds=0.5),
        model("remote", backend=Backend.OPENAI, ram_bytes=0, threads=0, slots=3),
    )
}
THREADS = 2
RAM = 2500 * MB
KV_RAM = 30 * MB
ARRIVALS_END = 300.0

Action = Callable[[], list[Decision]]


class World:
    """The backend, simulated: it keeps its own account of what runs and what
    is in memory, from the decisions alone, and checks it after each one."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.s: Scheduler = scheduler(
            *MODELS.values(),
            cpu_threads=THREADS,
            ram_bytes=RAM,
            kv_ram_bytes=KV_RAM,
            kv_disk_bytes=200 * MB,
            max_queued=12,
            max_queued_per_user=5,
            preload=True,
        )
        self.now = 0.0
        self._events: list[tuple[float, int, Action]] = []
        self._order = itertools.count()
        self.running: dict[JobId, str] = {}
        self.loading: set[str] = set()
        self.resident: set[str] = set()
        self.saved: dict[JobId, str] = {}
        self.states: set[str] = set()
        self.started: set[JobId] = set()
        self.owners: dict[JobId, int] = {}
        self.goal: dict[JobId, int] = {}
        self.made: dict[JobId, int] = {}
        self.epoch: dict[JobId, int] = {}
        self.busy = 0
        self.preemptions = 0

    def at(self, when: float, action: Action) -> None:
        heapq.heappush(self._events, (when, next(self._order), action))

    def run(self) -> None:
        while self._events:
            self.now, _, action = heapq.heappop(self._events)
            self.apply(action())
            if not self._events:
                self.apply(self.s.tick(self.now))

    # Events.

    def arrive(self) -> list[Decision]:
        owner = self.rng.randint(1000, 1003)
        try:
            job, decisions = submit(
                self.s,
                self.now,
                owner=owner,
                model=self.rng.choice([*MODELS, "default"]),
                priority=self.rng.choice(list(Priority)),
                max_tokens=self.rng.randint(1, 40),
                prompt_tokens=self.rng.randint(0, 300),
            )
        except Busy as busy:
            assert busy.retry_after > 0
            self.busy += 1
            return []
        self.owners[job] = owner
        self.goal[job] = self.rng.randint(1, 40)
        if self.rng.random() < 0.1:
            self.at(self.now + self.rng.uniform(0, 20), lambda: self.cancel(job))
        return decisions

    def cancel(self, job: JobId) -> list[Decision]:
        with pytest.raises(NotFound):
            self.s.cancel(job, self.owners[job] + 100, self.now)
        return self.s.cancel(job, self.owners[job], self.now)

    def token(self, job: JobId, epoch: int) -> list[Decision]:
        if self.epoch[job] != epoch or job not in self.running:
            return []
        self.s.on_token(job, self.now)
        self.made[job] = self.made.get(job, 0) + 1
        if self.made[job] >= self.goal[job]:
            return self.finish(job)
        if self.rng.random() < 0.005:
            del self.running[job]
            return self.s.on_failed(job, "out of memory", self.now)
        self._next_token(job)
        return []

    def finish(self, job: JobId) -> list[Decision]:
        model = self.running.pop(job, None) or self.s.job(job, 0).model
        kept = None
        if self.rng.random() < 0.5:
            kept = SavedState(f"end-{job}", model, self.rng.randint(1, 10) * MB)
            self.states.add(kept.id)
        return self.s.on_finished(job, self.now, kept)

    def boundary(self, job: JobId, model: str) -> list[Decision]:
        """A preempted job reaches its token boundary: saved, or it was its last token."""
        if self.made.get(job, 0) + 1 >= self.goal[job] and self.rng.random() < 0.5:
            return self.finish(job)
        state = f"kv-{job}-{self.epoch[job]}"
        self.states.add(state)
        self.saved[job] = state
        return self.s.on_preempted(job, SavedState(state, model, 8 * MB), self.now)

    def load_done(self, model: str) -> list[Decision]:
        self.loading.remove(model)
        if self.rng.random() < 0.05:
            return self.s.on_load_failed(model, "corrupt file", self.now)
        self.resident.add(model)
        return self.s.on_loaded(model, self.now)

    # Decisions.

    def _next_token(self, job: JobId) -> None:
        epoch = self.epoch[job]
        self.at(self.now + self.rng.uniform(0.05, 0.3), lambda: self.token(job, epoch))

    def _stop(self, job: JobId) -> str:
        self.epoch[job] = self.epoch.get(job, 0) + 1
        return self.running.pop(job)

    def apply(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            self.carry_out(decision)
            self.check()
        self.check_agreement()

    def carry_out(self, decision: Decision) -> None:
        match decision:
            case Load(model):
                assert model not in self.resident | self.loading
                self.loading.add(model)
                seconds = MODELS[model].load_seconds * self.rng.uniform(0.5, 2)
                self.at(self.now + seconds, lambda: self.load_done(model))
            case Evict(model):
                assert model in self.resident
                assert model not in self.running.values()
                assert not MODELS[model].pinned
                self.resident.remove(model)
            case Start(job, model):
                assert model in self.resident
                assert job not in self.started
                self.started.add(job)
                self.running[job] = model
                self.epoch[job] = 0
                self._next_token(job)
            case Resume(job, model, state):
                assert model in self.resident
                assert job in self.started and job not in self.running
                assert self.saved.pop(job) == state
                self.states.remove(state)
                self.running[job] = model
                self._next_token(job)
            case Preempt(job, for_job):
                assert self.s.job(for_job, 0).timings.submitted_at <= self.now
                model = self._stop(job)
                self.preemptions += 1
                self.at(self.now + 0.01, lambda: self.boundary(job, model))
            case Cancel(job):
                if job in self.running:
                    self._stop(job)
            case Reject(job):
                assert job not in self.running
            case PageOut(state):
                assert state in self.states
            case Drop(state):
                self.states.remove(state)
                self.saved = {j: s for j, s in self.saved.items() if s != state}

    def check(self) -> None:
        for name, spec in MODELS.items():
            assert list(self.running.values()).count(name) <= spec.slots
        assert sum(MODELS[m].threads for m in self.running.values()) <= THREADS
        assert sum(MODELS[m].ram_bytes for m in self.resident | self.loading) <= RAM

    def check_agreement(self) -> None:
        """The scheduler's account agrees with the backend's."""
        stats = self.s.stats(self.now)
        assert stats.running == len(self.running)
        assert set(stats.resident) == self.resident
        assert set(stats.loading) == self.loading
        assert stats.threads_used <= THREADS
        assert stats.ram_used <= RAM
        assert stats.kv_ram_used <= KV_RAM
        for job in self.running:
            assert self.s.job(job, 0).state is JobState.RUNNING


@pytest.mark.parametrize("seed", range(20))
def test_budgets_hold_and_every_job_ends_under_random_workloads(seed: int) -> None:
    world = World(seed)
    world.at(0.0, lambda: world.s.tick(0.0))
    arrival = 0.0
    while arrival < ARRIVALS_END:
        arrival += world.rng.expovariate(1 / 1.5)
        world.at(arrival, world.arrive)
    for second in range(0, int(ARRIVALS_END), 5):
        world.at(float(second), lambda: world.s.tick(world.now))

    world.run()

    infos = world.s.jobs_of(0)
    assert len(infos) > 100
    assert all(info.state in TERMINAL for info in infos)
    assert world.running == {} and world.saved == {}
    # The workload did what it was for.
    assert world.preemptions > 0 and world.busy > 0
    assert any(info.state is JobState.DONE for info in infos)
