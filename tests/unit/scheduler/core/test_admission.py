"""What submit refuses: a full queue (Busy, with a retry hint), jobs no model
here can run, and unknown models."""

from __future__ import annotations

import pytest

from noos.protocol.errors import Busy, InvalidArgument, NotFound
from noosd.scheduler.core import JobRequest, Sampling
from tests.unit.scheduler.fakes import MB, loaded, model, scheduler, submit


def test_a_full_queue_refuses_with_a_positive_retry_hint() -> None:
    s = scheduler(model("m"), max_queued=3, assumed_work_per_s=10)
    _, decisions = submit(s, 0, owner=1)
    loaded(s, decisions, 0)
    for owner in (2, 3, 4):
        submit(s, 1, owner=owner, max_tokens=100)

    with pytest.raises(Busy, match="queue is full") as refused:
        submit(s, 2, owner=5)

    # One queued job's work (100 tokens) at the assumed 10 per second.
    assert refused.value.retry_after == pytest.approx(10)
    assert "retry after 10 s" in str(refused.value)


def test_the_retry_hint_follows_measured_throughput() -> None:
    s = scheduler(model("m"), max_queued=1, assumed_work_per_s=10)
    running, decisions = submit(s, 0, owner=1, max_tokens=500)
    loaded(s, decisions, 0)
    submit(s, 0, owner=2, max_tokens=100)
    # 50 tokens a second for four seconds.
    for i in range(200):
        s.on_token(running, 1 + i / 50)

    with pytest.raises(Busy) as refused:
        submit(s, 5, owner=3)

    assert refused.value.retry_after == pytest.approx(2, rel=0.05)


def test_one_user_cannot_fill_the_queue_for_everyone() -> None:
    s = scheduler(model("m"), max_queued_per_user=2, assumed_work_per_s=10)
    _, decisions = submit(s, 0, owner=1)
    loaded(s, decisions, 0)
    submit(s, 1, owner=1, max_tokens=100)
    submit(s, 1, owner=1, max_tokens=100)
    submit(s, 1, owner=2, max_tokens=100)

    with pytest.raises(Busy, match="you have 2 jobs waiting") as refused:
        submit(s, 2, owner=1)
    submit(s, 2, owner=2)

    # Two users share the slot: user 1's next job starts half as often.
    assert refused.value.retry_after == pytest.approx(20)


def test_a_running_job_takes_no_place_in_the_queue() -> None:
    s = scheduler(model("m", slots=2), max_queued=1, cpu_threads=2)
    for owner in (1, 2):
        _, decisions = submit(s, 0, owner=owner)
        loaded(s, decisions, 0)

    submit(s, 1, owner=3)
    with pytest.raises(Busy):
        submit(s, 1, owner=4)


def test_a_job_longer_than_the_models_context_is_refused() -> None:
    s = scheduler(model("m", context_length=1024))

    with pytest.raises(InvalidArgument, match="= 1025 exceed model m's context of 1024"):
        submit(s, 0, prompt_tokens=1000, max_tokens=25)


def test_a_model_that_can_never_run_here_is_refused() -> None:
    s = scheduler(model("wide", threads=4), model("huge", ram_bytes=9000 * MB), ram_bytes=8000 * MB)

    with pytest.raises(InvalidArgument, match="needs 4 threads per job; the scheduler has 2"):
        submit(s, 0, model="wide")
    with pytest.raises(InvalidArgument, match="model huge needs more memory"):
        submit(s, 0, model="huge")


def test_unknown_and_default_models() -> None:
    s = scheduler(model("m"), model("chat", default=True))

    with pytest.raises(NotFound, match="no model 'gpt-9'"):
        submit(s, 0, model="gpt-9")
    job, _ = submit(s, 0, model="default")
    assert s.job(job, 1000).model == "chat"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"owner": -1}, "uid"),
        ({"owner": 1, "model": ""}, "name a model"),
        ({"owner": 1, "max_tokens": 0}, "max_tokens must be >= 1"),
        ({"owner": 1, "prompt_tokens": -5}, "prompt_tokens must be >= 0"),
    ],
)
def test_a_malformed_request_is_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        JobRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_k": -1}, "top_k"),
    ],
)
def test_malformed_sampling_is_refused(fields: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Sampling(**fields)  # type: ignore[arg-type]


def test_a_prompt_over_the_byte_bound_is_refused_before_it_is_tokenized() -> None:
    # The default bound: 8 bytes per token of the longest context in the catalog.
    s = scheduler(model("m", context_length=1024), model("long", context_length=2048))

    with pytest.raises(InvalidArgument, match="16385 bytes; the most is 16384"):
        s.admit(1, 16_385, 0)
    s.admit(1, 16_384, 0)
    with pytest.raises(InvalidArgument, match="16385 bytes"):
        submit(s, 0, prompt_bytes=16_385, prompt_tokens=10)


def test_one_users_waiting_prompt_bytes_are_bounded_and_not_anothers() -> None:
    s = scheduler(model("m"), max_prompt_bytes=1000, max_queued_prompt_bytes_per_user=1500)
    _, decisions = submit(s, 0, owner=1)
    loaded(s, decisions, 0)
    submit(s, 1, owner=1, prompt_bytes=1000)

    with pytest.raises(Busy, match="1600 bytes of prompts waiting; one user may have 1500"):
        submit(s, 2, owner=1, prompt_bytes=600)
    # Prompts still being tokenized count as waiting.
    with pytest.raises(Busy, match="1600 bytes"):
        s.admit(1, 100, 2, tokenizing_jobs=1, tokenizing_bytes=500)
    submit(s, 2, owner=1, prompt_bytes=500)
    # Another user's share is untouched.
    submit(s, 2, owner=2, prompt_bytes=1000)
    s.admit(2, 400, 2)


def test_a_users_prompts_being_tokenized_count_toward_their_waiting_jobs() -> None:
    s = scheduler(model("m"), max_queued_per_user=2)

    s.admit(1, 10, 0, tokenizing_jobs=1, tokenizing_bytes=10)
    with pytest.raises(Busy, match="you have 2 jobs waiting"):
        s.admit(1, 10, 0, tokenizing_jobs=2, tokenizing_bytes=20)
    s.admit(2, 10, 0)
