"""An interactive job preempts batch work at a token boundary; the batch job
resumes later from its saved KV state."""

from __future__ import annotations

import pytest

from noosd.scheduler.core import (
    Cancel,
    Drop,
    JobState,
    Preempt,
    Priority,
    Resume,
    SavedState,
    Start,
    StateLocation,
)
from tests.unit.scheduler.fakes import MB, loaded, model, only, scheduler, submit

# One job at a time: each takes both of the two threads.
WIDE = model("m", threads=2, slots=2)


def test_an_interactive_job_preempts_batch_work_then_runs() -> None:
    s = scheduler(WIDE)
    batch, decisions = submit(s, 0, priority=Priority.BATCH, max_tokens=100)
    loaded(s, decisions, 1)
    for t in range(10):
        s.on_token(batch, 2 + t)

    interactive, decisions = submit(s, 20, owner=1001, priority=Priority.INTERACTIVE)

    # Save the batch job's KV at its next token boundary, then run the interactive one.
    assert decisions == [Preempt(batch, for_job=interactive), Start(interactive, "m")]
    assert s.job(batch, 0).state is JobState.PREEMPTED
    assert s.job(interactive, 0).state is JobState.RUNNING


def test_the_preempted_job_resumes_from_its_saved_state_not_its_prompt() -> None:
    s = scheduler(WIDE)
    batch, decisions = submit(s, 0, priority=Priority.BATCH, max_tokens=100)
    loaded(s, decisions, 1)
    for t in range(10):
        s.on_token(batch, 2 + t)
    interactive, _ = submit(s, 20, owner=1001, priority=Priority.INTERACTIVE)
    # The batch job made one more token before its boundary, then was saved.
    s.on_token(batch, 20.1)
    assert s.on_preempted(batch, SavedState("kv-7", "m", 50 * MB), 20.2) == []

    decisions = s.on_finished(interactive, 30)

    assert decisions == [Resume(batch, "m", "kv-7", StateLocation.RAM)]
    assert not only(decisions, Start)
    info = s.job(batch, 0)
    assert info.state is JobState.RUNNING
    assert info.timings.tokens == 11
    assert info.timings.paused_s == pytest.approx(10)
    assert info.timings.started_at == 1


def test_a_job_resumes_only_once_its_state_is_saved() -> None:
    s = scheduler(WIDE)
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 1)
    interactive, _ = submit(s, 2, priority=Priority.INTERACTIVE)

    # The interactive job ended before the backend reported the save.
    assert s.on_finished(interactive, 3) == []
    assert s.on_preempted(batch, SavedState("kv", "m", MB), 4) == [
        Resume(batch, "m", "kv", StateLocation.RAM)
    ]


def test_a_job_told_to_preempt_may_finish_instead() -> None:
    s = scheduler(WIDE)
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 1)
    interactive, _ = submit(s, 2, priority=Priority.INTERACTIVE)

    s.on_finished(batch, 2.1)
    s.on_finished(interactive, 3)

    assert s.job(batch, 0).state is JobState.DONE


def test_cancelling_a_job_being_saved_drops_its_state() -> None:
    s = scheduler(WIDE)
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 1)
    submit(s, 2, priority=Priority.INTERACTIVE)

    assert s.cancel(batch, 1000, 2.05) == [Cancel(batch)]
    assert s.on_preempted(batch, SavedState("kv", "m", MB), 2.1) == [Drop("kv")]


def test_cancelling_a_preempted_job_drops_its_saved_state() -> None:
    s = scheduler(WIDE)
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 1)
    submit(s, 2, priority=Priority.INTERACTIVE)
    s.on_preempted(batch, SavedState("kv", "m", MB), 2.1)

    assert s.cancel(batch, 1000, 3) == [Drop("kv")]
    assert s.stats(3).kv_ram_used == 0


@pytest.mark.parametrize("waiting", [Priority.NORMAL, Priority.BATCH])
def test_a_job_never_preempts_its_own_class(waiting: Priority) -> None:
    s = scheduler(WIDE)
    first, decisions = submit(s, 0, priority=waiting)
    loaded(s, decisions, 1)

    _, decisions = submit(s, 2, priority=waiting)

    assert decisions == []
    assert s.job(first, 0).state is JobState.RUNNING


def test_the_latest_started_of_the_lowest_class_is_preempted_and_no_more() -> None:
    s = scheduler(model("m", slots=3), cpu_threads=3)
    _, decisions = submit(s, 0, priority=Priority.NORMAL)
    loaded(s, decisions, 1)
    early, _ = submit(s, 2, priority=Priority.BATCH)
    late, _ = submit(s, 3, priority=Priority.BATCH)

    interactive, decisions = submit(s, 4, priority=Priority.INTERACTIVE)

    assert decisions == [Preempt(late, for_job=interactive), Start(interactive, "m")]
    assert s.job(early, 0).state is JobState.RUNNING


def test_an_interactive_job_preempts_for_a_slot_of_its_model_only() -> None:
    s = scheduler(model("m"), model("other"), cpu_threads=2)
    batch_m, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 1)
    batch_other, decisions = submit(s, 2, model="other", priority=Priority.BATCH)
    loaded(s, decisions, 3)

    interactive, decisions = submit(s, 4, priority=Priority.INTERACTIVE)

    # The latest started is on another model: preempting it would free no slot of m.
    assert decisions == [Preempt(batch_m, for_job=interactive), Start(interactive, "m")]
    assert s.job(batch_other, 0).state is JobState.RUNNING


def test_an_interactive_job_preempts_to_free_memory_for_its_model() -> None:
    big = 3000 * MB
    s = scheduler(model("m", ram_bytes=big), model("chat", ram_bytes=big), ram_bytes=4000 * MB)
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 1)

    interactive, decisions = submit(s, 2, model="chat", priority=Priority.INTERACTIVE)

    assert [type(d).__name__ for d in decisions] == ["Preempt", "Evict", "Load"]
    assert s.job(interactive, 0).state is JobState.LOADING
    assert only(s.on_loaded("chat", 5), Start) == [Start(interactive, "chat")]
    s.on_preempted(batch, SavedState("kv", "m", MB), 2.1)

    # Once the interactive job is done, m comes back and the batch job resumes.
    decisions = s.on_finished(interactive, 9)
    assert [type(d).__name__ for d in decisions] == ["Evict", "Load"]
    assert s.on_loaded("m", 11) == [Resume(batch, "m", "kv", StateLocation.RAM)]
