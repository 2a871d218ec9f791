"""The next model asked for, learnt by hour of day and by sequence, with its
hit rate; the scheduler preloads it into free memory only."""

from __future__ import annotations

import json

import pytest

from noosd.scheduler.core import Load, Start
from noosd.scheduler.core.prediction import ModelPredictor
from tests.unit.scheduler.fakes import MB, loaded, model, scheduler, submit

HOUR = 3600.0
DAY = 24 * HOUR


def test_a_daily_pattern_is_learnt() -> None:
    predictor = ModelPredictor()
    for day in range(14):
        for minute in range(3):
            predictor.observe("coder", day * DAY + 9 * HOUR + minute * 60)
        for minute in range(3):
            predictor.observe("chat", day * DAY + 20 * HOUR + minute * 60)
    # A model never seen before has no successors: the hour decides alone.
    predictor.observe("new", 14 * DAY + 14 * HOUR)

    assert predictor.predict(15 * DAY + 9.5 * HOUR) == "coder"
    assert predictor.predict(15 * DAY + 20.5 * HOUR) == "chat"
    # An hour without history, after a model without successors: no guess.
    assert predictor.predict(15 * DAY + 3 * HOUR) is None


def test_hours_are_local_time() -> None:
    predictor = ModelPredictor(utc_offset_s=2 * HOUR)

    assert predictor.hour(7 * HOUR) == 9
    assert predictor.hour(23 * HOUR) == 1


def test_a_sequence_is_learnt_and_its_hit_rate_reported() -> None:
    predictor = ModelPredictor()
    cycle = ["embed", "chat", "coder"]
    assert predictor.hit_rate is None
    guesses = []

    for i in range(60):
        now = 12 * HOUR + i
        guesses.append(predictor.predict(now))
        predictor.observe(cycle[i % 3], now)

    # All in one hour, whose row is a third each: once each model's successors
    # have been seen twice (min_evidence), the previous model decides, rightly.
    assert guesses[:2] == [None, None]
    assert all(guesses[i] == cycle[i % 3] for i in range(7, 60))
    hits = sum(guess == cycle[i % 3] for i, guess in enumerate(guesses))
    assert (predictor.predictions, predictor.hits) == (58, hits)
    assert predictor.hit_rate == hits / 58 > 0.9


def test_a_changed_habit_wins_within_tens_of_jobs() -> None:
    predictor = ModelPredictor()
    for i in range(200):
        predictor.observe("old", i)
    for i in range(200, 230):
        predictor.observe("new", i)

    assert predictor.predict(231) == "new"


def test_only_predictions_made_are_scored() -> None:
    predictor = ModelPredictor()
    for i in range(5):
        predictor.observe("m", i)
    assert predictor.predictions == 0

    predictor.predict(10)
    predictor.observe("x", 11)
    predictor.observe("m", 12)

    assert (predictor.predictions, predictor.hits) == (1, 0)


def followed_by_b() -> ModelPredictor:
    predictor = ModelPredictor()
    for i in range(4):
        predictor.observe("a", i * 10)
        predictor.observe("b", i * 10 + 5)
    return predictor


def test_the_scheduler_preloads_the_predicted_model_into_free_memory() -> None:
    s = scheduler(model("a"), model("b"), predictor=followed_by_b(), preload=True)

    job, decisions = submit(s, 100, model="a")

    assert decisions == [Load("a"), Load("b")]
    s.on_loaded("a", 101)
    s.on_loaded("b", 102)
    s.on_finished(job, 103)
    second, decisions = submit(s, 110, model="b")
    assert decisions == [Start(second, "b")]
    stats = s.stats(110)
    assert (stats.predictions, stats.prediction_hits, stats.prediction_hit_rate) == (1, 1, 1.0)


def test_a_preload_never_evicts() -> None:
    s = scheduler(
        model("a"), model("b"), predictor=followed_by_b(), preload=True, ram_bytes=1000 * MB
    )

    _, decisions = submit(s, 100, model="a")

    assert decisions == [Load("a")]


@pytest.mark.parametrize(("ram_mb", "preloaded"), [(3000, [Load("b")]), (2000, [])])
def test_a_preload_leaves_the_memory_waiting_jobs_need(ram_mb: int, preloaded: list[Load]) -> None:
    models = (model(name, threads=2) for name in "abc")
    s = scheduler(*models, predictor=followed_by_b(), preload=True, ram_bytes=ram_mb * MB)
    # At noon, an hour without history, after c, a model without successors: no guess.
    first, decisions = submit(s, 12 * HOUR, model="c")
    assert loaded(s, decisions, 12 * HOUR) == [Load("c"), Start(first, "c")]

    # a waits for c's job to end (it takes both threads), then loads.
    _, decisions = submit(s, 12 * HOUR + 1, model="a")

    assert decisions == preloaded


def test_what_a_predictor_learnt_survives_a_restart_through_json() -> None:
    first = ModelPredictor()
    for i in range(6):
        first.observe("chat" if i % 2 else "code", i * 60.0)
        first.predict(i * 60.0 + 1)
    second = ModelPredictor()
    second.relearn(json.loads(json.dumps(first.learnt())))

    assert second.predict(400.0) == first.predict(400.0)
    assert (second.predictions, second.hits) == (first.predictions, first.hits)
