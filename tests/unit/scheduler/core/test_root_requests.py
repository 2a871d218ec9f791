"""Root's Load, Unload and Pin: ahead of jobs, never of a busy model, pins that hold."""

from __future__ import annotations

import pytest

from noos.protocol.errors import Busy, InvalidArgument, NotFound
from noosd.scheduler.core import Evict, Load
from tests.unit.scheduler.fakes import MB, loaded, model, only, scheduler, submit


def test_load_brings_a_model_in_before_any_job_asks() -> None:
    s = scheduler(model("m"))

    assert s.load("m", 0) == [Load("m")]
    assert s.load("m", 0) == []  # already loading
    s.on_loaded("m", 1)
    assert s.stats(1).resident == ("m",)


def test_load_evicts_an_idle_model_to_make_room_but_refuses_over_a_busy_one() -> None:
    s = scheduler(model("a"), model("b"), ram_bytes=1000 * MB)
    job, decisions = submit(s, 0, model="a")
    loaded(s, decisions, 1)

    with pytest.raises(Busy):
        s.load("b", 2)
    s.on_finished(job, 3)
    decisions = s.load("b", 4)
    assert decisions == [Evict("a"), Load("b")]


def test_load_of_an_unknown_or_oversized_model_says_so() -> None:
    s = scheduler(model("big", ram_bytes=9000 * MB), ram_bytes=1000 * MB)
    with pytest.raises(NotFound):
        s.load("nope", 0)
    with pytest.raises(InvalidArgument, match="more memory"):
        s.load("big", 0)


def test_unload_evicts_an_idle_model_only() -> None:
    s = scheduler(model("m"))
    assert s.unload("m", 0) == []  # not resident: nothing to do
    job, decisions = submit(s, 0)
    loaded(s, decisions, 1)

    with pytest.raises(Busy):
        s.unload("m", 2)
    s.on_finished(job, 3)
    assert s.unload("m", 4) == [Evict("m")]
    assert s.stats(4).resident == ()


def test_a_pinned_model_loads_is_never_unloaded_or_evicted_until_unpinned() -> None:
    s = scheduler(model("p"), model("other"), ram_bytes=1000 * MB)

    assert s.pin("p", True, 0) == [Load("p")]
    s.on_loaded("p", 1)
    with pytest.raises(InvalidArgument, match="pinned"):
        s.unload("p", 2)
    job, decisions = submit(s, 3, model="other")
    assert only(decisions, Evict) == []  # waits: the pinned model stays
    assert s.pin("p", False, 4)[:2] == [Evict("p"), Load("other")]
    assert s.job(job, 1000).model == "other"


def test_an_unloaded_model_is_not_preloaded_again_until_a_job_asks_for_it() -> None:
    s = scheduler(model("m"), preload=True)
    for now in (0, 10, 20):  # the predictor learns that m is asked for
        job, decisions = submit(s, now)
        loaded(s, decisions, now + 1)
        s.on_finished(job, now + 2)

    assert s.unload("m", 30) == [Evict("m")]
    assert only(s.tick(31), Load) == []
    job, decisions = submit(s, 40)
    assert decisions == [Load("m")]
