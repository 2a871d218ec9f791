"""A job is its owner's: another user can neither read nor cancel it; root can."""

from __future__ import annotations

import pytest

from noos.protocol.errors import NotFound
from noosd.scheduler.core import Cancel, JobId, JobRequest, JobState, Start
from tests.unit.scheduler.fakes import loaded, model, scheduler, submit

OWNER, OTHER, ROOT = 1000, 1001, 0


def test_another_user_can_neither_cancel_nor_read_a_job_nor_tell_it_exists() -> None:
    s = scheduler(model("m"))
    job, _ = submit(s, 0, owner=OWNER)
    missing = JobId(job ^ 1)

    errors = []
    for attempt in (
        lambda: s.cancel(job, OTHER, 1),
        lambda: s.job(job, OTHER),
        lambda: s.cancel(missing, OTHER, 1),
        lambda: s.job(missing, OTHER),
    ):
        with pytest.raises(NotFound) as error:
            attempt()
        errors.append(str(error.value))
    assert len(set(errors)) == 1, errors
    assert s.job(job, OWNER).state is JobState.LOADING
    assert s.jobs_of(OTHER) == []


@pytest.mark.parametrize("caller", [OWNER, ROOT])
def test_the_owner_or_root_cancels_a_running_job(caller: int) -> None:
    s = scheduler(model("m"))
    running, decisions = submit(s, 0, owner=OWNER)
    loaded(s, decisions, 0)
    waiting, _ = submit(s, 1, owner=OTHER)

    decisions = s.cancel(running, caller, 2)

    # Stop it, and give its slot to the next job.
    assert decisions == [Cancel(running), Start(waiting, "m")]
    assert s.job(running, caller).state is JobState.CANCELLED


def test_cancelling_a_waiting_job_needs_nothing_of_the_backend() -> None:
    s = scheduler(model("m"))
    _, decisions = submit(s, 0, owner=OWNER)
    loaded(s, decisions, 0)
    waiting, _ = submit(s, 1, owner=OWNER)

    assert s.cancel(waiting, OWNER, 2) == []
    assert s.stats(2).queued == 0


def test_a_finished_job_stays_as_it_ended() -> None:
    s = scheduler(model("m"))
    job, decisions = submit(s, 0, owner=OWNER)
    loaded(s, decisions, 0)
    s.on_finished(job, 1)

    assert s.cancel(job, OWNER, 2) == []
    assert s.job(job, OWNER).state is JobState.DONE


def test_root_lists_everyones_jobs_and_a_user_their_own() -> None:
    s = scheduler(model("m"))
    mine, _ = submit(s, 0, owner=OWNER)
    theirs, _ = submit(s, 0, owner=OTHER)

    assert [info.id for info in s.jobs_of(OWNER)] == [mine]
    assert [info.id for info in s.jobs_of(ROOT)] == [mine, theirs]


def test_an_unknown_or_long_finished_job_is_not_found() -> None:
    s = scheduler(model("m"), finished_kept=1)
    first, decisions = submit(s, 0, owner=OWNER)
    loaded(s, decisions, 0)
    s.on_finished(first, 1)
    second, _ = submit(s, 1, owner=OWNER)
    s.on_finished(second, 2)

    with pytest.raises(NotFound, match="no such job"):
        s.job(first, OWNER)
    with pytest.raises(NotFound):
        s.cancel(JobId(99), ROOT, 3)
    assert s.job(second, OWNER).state is JobState.DONE


def test_job_ids_are_random_not_sequential() -> None:
    s = scheduler(model("m"))
    ids = [submit(s, 0, owner=OWNER)[0] for _ in range(3)]

    assert len(set(ids)) == 3
    assert all(job >= 2**32 for job in ids), ids  # 1 in 2**32 each of failing by chance


def test_a_restored_job_keeps_its_id_and_owner_and_runs_again() -> None:
    s = scheduler(model("m"))
    job = JobId(2**64 - 1)

    decisions = loaded(s, s.restore(job, JobRequest(owner=OWNER, model="m"), 0), 0)

    assert Start(job, "m") in decisions
    assert s.job(job, OWNER).state is JobState.RUNNING
    with pytest.raises(NotFound):
        s.job(job, OTHER)


def test_a_restored_ended_job_stays_as_it_ended() -> None:
    s = scheduler(model("m"))
    job = JobId(7)

    decisions = s.restore(job, JobRequest(owner=OWNER, model="m"), 0, JobState.DONE, "", 3)

    assert decisions == []
    info = s.job(job, OWNER)
    assert (info.state, info.timings.tokens) == (JobState.DONE, 3)
    assert s.cancel(job, OWNER, 1) == []
