"""Between users of one class: a flood's backlog waits behind another user's
job, and a user with nothing running takes a slot back from one holding several."""

from __future__ import annotations

from noosd.scheduler.core import JobState, Preempt, Priority, Start
from noosd.scheduler.core.jobs import Job, JobId, Sampling
from noosd.scheduler.core.policy import preemption_victims
from tests.unit.scheduler.fakes import loaded, model, only, scheduler, submit

FLOODER, LIGHT, OTHER = 1, 2, 3


def test_a_flooders_backlog_never_goes_before_another_users_job() -> None:
    s = scheduler(model("m"))
    first, decisions = submit(s, 0, owner=FLOODER, priority=Priority.BATCH, max_tokens=10)
    loaded(s, decisions, 0)
    for t in range(10):
        submit(s, 1 + t, owner=FLOODER, priority=Priority.BATCH, max_tokens=10)
    # The light user comes at the class's floor: the flooder's virtual time.
    light, _ = submit(s, 30, owner=LIGHT, priority=Priority.BATCH, max_tokens=10)

    for t in range(10):
        s.on_token(first, 31 + t)
    starts = only(s.on_finished(first, 41), Start)

    assert [start.job for start in starts] == [light]


def test_a_user_with_no_running_job_preempts_one_holding_two_slots() -> None:
    s = scheduler(model("m", slots=2), cpu_threads=2)
    early, decisions = submit(s, 0, owner=FLOODER, priority=Priority.INTERACTIVE)
    loaded(s, decisions, 1)
    late, _ = submit(s, 2, owner=FLOODER, priority=Priority.INTERACTIVE)

    light, decisions = submit(s, 3, owner=LIGHT, priority=Priority.INTERACTIVE)

    # The flooder's latest started job gives its slot back; its first keeps going.
    assert decisions == [Preempt(late, for_job=light), Start(light, "m")]
    assert s.job(early, 0).state is JobState.RUNNING


def test_no_user_loses_their_last_slot_to_their_own_class() -> None:
    s = scheduler(model("m", slots=2), cpu_threads=2)
    first, decisions = submit(s, 0, owner=FLOODER, priority=Priority.INTERACTIVE)
    loaded(s, decisions, 1)
    light, _ = submit(s, 2, owner=LIGHT, priority=Priority.INTERACTIVE)

    # Each holds one slot: a third user waits; the second user's second job too.
    _, by_other = submit(s, 3, owner=OTHER, priority=Priority.INTERACTIVE)
    _, by_light = submit(s, 4, owner=LIGHT, priority=Priority.INTERACTIVE)

    assert by_other == by_light == []
    assert s.job(first, 0).state is s.job(light, 0).state is JobState.RUNNING


def test_a_user_running_a_job_never_preempts_another_of_their_class() -> None:
    s = scheduler(model("m", slots=3), cpu_threads=3)
    _, decisions = submit(s, 0, owner=FLOODER, priority=Priority.INTERACTIVE)
    loaded(s, decisions, 1)
    submit(s, 2, owner=FLOODER, priority=Priority.INTERACTIVE)
    submit(s, 3, owner=LIGHT, priority=Priority.INTERACTIVE)

    # The light user runs one job already: their second waits its turn.
    _, decisions = submit(s, 4, owner=LIGHT, priority=Priority.INTERACTIVE)

    assert decisions == []


def job(id: int, owner: int, priority: Priority, run_order: int) -> Job:
    return Job(
        id=JobId(id),
        owner=owner,
        model="m",
        priority=priority,
        max_tokens=10,
        prompt_tokens=0,
        sampling=Sampling(),
        submitted_at=0.0,
        submission=id,
        run_order=run_order,
    )


def test_victims_of_the_own_class_come_from_the_users_holding_most_never_their_last() -> None:
    i = Priority.INTERACTIVE
    running = [
        job(1, FLOODER, i, run_order=1),
        job(2, FLOODER, i, run_order=2),
        job(3, FLOODER, i, run_order=3),
        job(4, OTHER, i, run_order=4),
        job(5, OTHER, i, run_order=5),
        job(6, 4, i, run_order=6),
        job(7, 4, Priority.BATCH, run_order=7),
    ]
    candidate = job(10, LIGHT, i, run_order=0)

    def victims(wanted: int) -> list[int] | None:
        found = preemption_victims(candidate, running, lambda chosen: len(chosen) >= wanted)
        return None if found is None else [v.id for v in found]

    # The batch job first; then the flooder's, latest first, down to its last
    # one; then one of the other user holding two. User 4's interactive job,
    # its last once its batch job is picked, never; nor anyone's last.
    assert victims(1) == [7]
    assert victims(2) == [7, 3]
    assert victims(4) == [7, 3, 2, 5]
    assert victims(5) is None
