"""Models in memory: loads on demand, evictions by cost, never of a pinned or
busy model, none while memory is free; sampling never reloads."""

from __future__ import annotations

import pytest

from noosd.scheduler.core import Evict, JobState, Load, Reject, Sampling, Scheduler, Start
from noosd.scheduler.core.residency import Phase, Residency
from tests.unit.scheduler.fakes import MB, loaded, model, only, scheduler, submit


def test_a_model_loads_on_demand_and_its_job_starts_once_loaded() -> None:
    s = scheduler(model("m"))

    job, decisions = submit(s, 0)

    assert decisions == [Load("m")]
    assert s.job(job, 1000).state is JobState.LOADING
    assert s.on_loaded("m", 2) == [Start(job, "m")]


def test_nothing_is_evicted_while_memory_is_free() -> None:
    s = scheduler(model("a"), model("b"), model("c"), ram_bytes=3000 * MB, cpu_threads=3)
    for name in ("a", "b", "c"):
        job, decisions = submit(s, 0, model=name)
        loaded(s, decisions, 1)
        assert only(s.on_finished(job, 2), Evict) == []

    assert s.stats(3).resident == ("a", "b", "c")


def test_sampling_never_reloads_a_model() -> None:
    s = scheduler(model("m"))
    job, decisions = submit(s, 0, sampling=Sampling(temperature=0.2))
    loaded(s, decisions, 1)

    for i, sampling in enumerate((Sampling(temperature=1.5, top_k=5), Sampling(seed=7))):
        decisions = s.on_finished(job, 2 + i)
        job, more = submit(s, 2 + i, sampling=sampling)
        decisions += more
        assert decisions == [Start(job, "m")]


def two_idle(a: dict[str, object], b: dict[str, object], used_at: tuple[float, float]) -> Scheduler:
    """A scheduler with models a and b resident and idle since `used_at`, each
    having loaded in its load_seconds, in a memory that holds two."""
    models = model("a", **a), model("b", **b)
    s = scheduler(*models, model("c"), ram_bytes=2000 * MB)
    for spec, at in zip(models, used_at, strict=True):
        job, _ = submit(s, 0, model=spec.name)
        s.on_loaded(spec.name, spec.load_seconds)
        s.on_finished(job, at)
    return s


@pytest.mark.parametrize(
    ("a", "b", "used_at", "evicted"),
    [
        # Used alike: the one quicker to reload goes.
        ({"load_seconds": 10.0}, {"load_seconds": 1.0}, (100, 100), "b"),
        # Loading alike: the one idle for longer goes.
        ({}, {}, (10, 5000), "a"),
        # Idle alike, reloading alike: the bigger frees more per second of reload.
        ({"ram_bytes": 500 * MB}, {"ram_bytes": 1000 * MB}, (100, 100), "b"),
    ],
)
def test_the_cheapest_model_is_evicted(
    a: dict[str, object], b: dict[str, object], used_at: tuple[float, float], evicted: str
) -> None:
    s = two_idle(a, b, used_at)

    _, decisions = submit(s, 6000, model="c")

    assert decisions == [Evict(evicted), Load("c")]


def test_a_pinned_model_is_never_evicted() -> None:
    s = scheduler(
        model("p", pinned=True, load_seconds=0.1), model("a"), model("c"), ram_bytes=2000 * MB
    )
    assert s.tick(0) == [Load("p")]
    s.on_loaded("p", 1)
    job, decisions = submit(s, 1, model="a")
    loaded(s, decisions, 2)
    s.on_finished(job, 3)

    _, decisions = submit(s, 1000, model="c")

    # p is idle for longer and quicker to reload, but pinned.
    assert decisions == [Evict("a"), Load("c")]


def test_a_model_with_a_running_job_is_never_evicted() -> None:
    s = scheduler(model("a"), model("c"), ram_bytes=1000 * MB, cpu_threads=2)
    running, decisions = submit(s, 0, model="a")
    loaded(s, decisions, 1)

    waiting, decisions = submit(s, 2, model="c")

    assert decisions == []
    assert s.job(waiting, 1000).state is JobState.QUEUED
    assert s.on_finished(running, 3) == [Evict("a"), Load("c")]


def test_a_failed_load_rejects_the_jobs_waiting_for_it() -> None:
    s = scheduler(model("m"))
    first, _ = submit(s, 0)
    second, _ = submit(s, 0)

    decisions = s.on_load_failed("m", "bad magic", 1)

    assert only(decisions, Reject) == [
        Reject(first, "model m failed to load: bad magic"),
        Reject(second, "model m failed to load: bad magic"),
    ]
    assert s.job(second, 1000).state is JobState.FAILED
    assert s.stats(1).ram_used == 0
    # The next job tries again.
    assert submit(s, 2)[1] == [Load("m")]


def test_pinned_models_load_at_the_first_tick_and_stay() -> None:
    s = scheduler(model("p", pinned=True), model("m"))

    assert s.tick(0) == [Load("p")]
    assert s.tick(1) == []
    s.on_loaded("p", 2)
    assert s.tick(3) == []
    assert s.stats(3).resident == ("p",)


def test_a_plan_evicts_no_more_than_needed() -> None:
    residency = Residency(ram_bytes=3000 * MB, vram_bytes=0, idle_half_life_s=600)
    for spec, load_seconds in (
        (model("small", ram_bytes=500 * MB), 0.1),
        (model("big", ram_bytes=2000 * MB), 10.0),
    ):
        residency.begin_load(spec, 0)
        residency.loaded(spec.name, load_seconds)

    # small is the cheapest per byte, but not enough; big is enough alone.
    plan = residency.plan(model("new", ram_bytes=1500 * MB), busy=(), now=20)

    assert plan == ["big"]


def test_a_plan_is_none_when_busy_and_pinned_models_hold_the_memory() -> None:
    residency = Residency(ram_bytes=2000 * MB, vram_bytes=0, idle_half_life_s=600)
    for spec in (model("busy"), model("pinned", pinned=True)):
        residency.begin_load(spec, 0)
        residency.loaded(spec.name, 1)

    assert residency.plan(model("new"), busy={"busy"}, now=10) is None
    assert residency.phase("busy") is Phase.RESIDENT


def test_vram_is_a_budget_of_its_own() -> None:
    s = scheduler(
        model("gpu-a", vram_bytes=6000 * MB, ram_bytes=100 * MB),
        model("gpu-b", vram_bytes=6000 * MB, ram_bytes=100 * MB),
        ram_bytes=4000 * MB,
        vram_bytes=8000 * MB,
    )
    job, decisions = submit(s, 0, model="gpu-a")
    loaded(s, decisions, 1)
    s.on_finished(job, 2)

    _, decisions = submit(s, 3, model="gpu-b")

    assert decisions == [Evict("gpu-a"), Load("gpu-b")]
