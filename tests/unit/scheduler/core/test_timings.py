"""A job's timings: time to first token and tokens per second, pauses left out."""

from __future__ import annotations

import pytest

from noosd.scheduler.core import Priority, SavedState
from tests.unit.scheduler.fakes import MB, loaded, model, scheduler, submit


def test_time_to_first_token_and_rate() -> None:
    s = scheduler(model("m"))
    job, decisions = submit(s, 10, prompt_tokens=100)
    loaded(s, decisions, 12)
    for i in range(21):
        s.on_token(job, 13 + i * 0.1)
    s.on_finished(job, 15)

    timings = s.job(job, 0).timings

    assert (timings.submitted_at, timings.started_at, timings.finished_at) == (10, 12, 15)
    assert timings.time_to_first_token == pytest.approx(3)
    assert timings.tokens == 21
    assert timings.tokens_per_s == pytest.approx(10)


def test_a_job_without_tokens_has_no_rate() -> None:
    s = scheduler(model("m"))
    job, _ = submit(s, 0)

    timings = s.job(job, 0).timings

    assert timings.time_to_first_token is None and timings.tokens_per_s is None


def test_time_preempted_does_not_count_against_the_rate() -> None:
    s = scheduler(model("m", threads=2))
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 0)
    for i in range(11):
        s.on_token(batch, 1 + i * 0.1)
    interactive, _ = submit(s, 2, priority=Priority.INTERACTIVE)
    s.on_preempted(batch, SavedState("kv", "m", MB), 2)
    s.on_finished(interactive, 12)
    for i in range(10):
        s.on_token(batch, 12.1 + i * 0.1)
    s.on_finished(batch, 13)

    timings = s.job(batch, 0).timings

    assert timings.paused_s == pytest.approx(10)
    # 20 tokens after the first in 12 s, 10 of them preempted.
    assert timings.tokens_per_s == pytest.approx(20 / 2)
