"""Priority classes, fair share between users within a class, and the run queue."""

from __future__ import annotations

from noosd.scheduler.core import JobId, Priority, Scheduler, Start
from noosd.scheduler.core.jobs import Job, Sampling
from noosd.scheduler.core.policy import RunQueue, preemption_victims
from tests.unit.scheduler.fakes import loaded, model, only, scheduler, submit


def finish_in_turn(s: Scheduler, first: JobId, now: float) -> list[JobId]:
    """Run jobs one at a time: the running one makes all its tokens and
    finishes, and the next start is noted, until none starts. The ids in start order."""
    started = [first]
    while True:
        job = started[-1]
        for _ in range(s.job(job, 0).max_tokens):
            now += 0.1
            s.on_token(job, now)
        starts = only(s.on_finished(job, now), Start)
        if not starts:
            return started
        started.extend(start.job for start in starts)


def test_waiting_jobs_start_by_class_whatever_their_order_of_arrival() -> None:
    s = scheduler(model("m"))
    running, decisions = submit(s, 0, priority=Priority.INTERACTIVE)
    loaded(s, decisions, 0)
    batch, _ = submit(s, 1, priority=Priority.BATCH)
    normal, _ = submit(s, 2, priority=Priority.NORMAL)
    interactive, _ = submit(s, 3, priority=Priority.INTERACTIVE)

    assert finish_in_turn(s, running, 4) == [running, interactive, normal, batch]


def test_a_job_without_a_priority_takes_its_models_default() -> None:
    s = scheduler(model("m"), model("bulk", priority=Priority.BATCH))

    job, _ = submit(s, 0, model="bulk")

    assert s.job(job, 1000).priority is Priority.BATCH


def owners(s: Scheduler, started: list[JobId]) -> str:
    return "".join("A" if s.job(job, 0).owner == 1 else "B" for job in started)


def test_two_users_flooding_one_class_take_turns() -> None:
    s = scheduler(model("m"))
    first, decisions = submit(s, 0, owner=1, max_tokens=10)
    loaded(s, decisions, 0)
    for _ in range(5):
        submit(s, 0, owner=1, max_tokens=10)
    for _ in range(6):
        submit(s, 0, owner=2, max_tokens=10)

    order = owners(s, finish_in_turn(s, first, 1))

    # A's first job started alone; from then on the users alternate.
    assert order == "AABABABABABB"


def test_fair_share_counts_work_not_jobs() -> None:
    s = scheduler(model("m"))
    first, decisions = submit(s, 0, owner=1, max_tokens=40)
    loaded(s, decisions, 0)
    for _ in range(3):
        submit(s, 0, owner=1, max_tokens=40)
    for _ in range(12):
        submit(s, 0, owner=2, max_tokens=10)

    order = owners(s, finish_in_turn(s, first, 1))

    # A's jobs are four times B's: after A's first, which started alone, B
    # has four jobs for each of A's.
    assert order == "AABBBBABBBBABBBB"


def test_a_user_back_from_idleness_has_banked_no_credit() -> None:
    s = scheduler(model("m"))
    first, decisions = submit(s, 0, owner=1, max_tokens=10)
    loaded(s, decisions, 0)
    # A ran ten jobs while B was away.
    job = first
    for i in range(10):
        s.on_finished(job, i + 1)
        job, _ = submit(s, i + 1, owner=1, max_tokens=10)
    for _ in range(5):
        submit(s, 20, owner=1, max_tokens=10)
    for _ in range(5):
        submit(s, 20, owner=2, max_tokens=10)

    order = owners(s, finish_in_turn(s, job, 21))

    assert order.startswith("AABABAB")


def job(id: int, owner: int, priority: Priority, run_order: int = 0) -> Job:
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


def test_the_queue_orders_by_class_then_virtual_time_then_backlog_then_arrival() -> None:
    queue = RunQueue(prefill_weight=0.2)
    jobs = [
        job(1, 1, Priority.BATCH),
        job(2, 1, Priority.NORMAL),
        job(3, 1, Priority.NORMAL),
        job(4, 2, Priority.NORMAL),
        job(5, 2, Priority.INTERACTIVE),
    ]
    for j in jobs:
        queue.add(j)

    # Users 1 and 2 tie at virtual time 0: user 2, with one job to user 1's two, first.
    assert [j.id for j in queue.in_order()] == [5, 4, 2, 3, 1]
    queue.remove(jobs[4])
    assert len(queue) == 4


def test_victims_are_the_fewest_of_the_lowest_class_latest_started_first() -> None:
    interactive = job(10, 1, Priority.INTERACTIVE)
    running = [
        job(1, 2, Priority.BATCH, run_order=1),
        job(2, 2, Priority.BATCH, run_order=2),
        job(3, 2, Priority.NORMAL, run_order=3),
        job(4, 2, Priority.INTERACTIVE, run_order=4),
    ]

    one = preemption_victims(interactive, running, lambda chosen: len(chosen) >= 1)
    three = preemption_victims(interactive, running, lambda chosen: len(chosen) >= 3)
    never = preemption_victims(interactive, running, lambda chosen: False)
    for_normal = preemption_victims(job(11, 1, Priority.NORMAL), running, lambda c: len(c) >= 3)

    assert [v.id for v in one or []] == [2]
    assert [v.id for v in three or []] == [2, 1, 3]
    assert never is None
    # A normal job may preempt the two batch jobs and, its owner running
    # nothing, the normal one of user 2, who holds four slots.
    assert [v.id for v in for_normal or []] == [2, 1, 3]


def test_victims_not_needed_are_spared() -> None:
    running = [job(1, 2, Priority.BATCH, run_order=2), job(2, 2, Priority.BATCH, run_order=1)]

    # Only job 2 (say, on the model wanted) makes room, though job 1 comes first.
    victims = preemption_victims(
        job(10, 1, Priority.INTERACTIVE), running, lambda chosen: any(v.id == 2 for v in chosen)
    )

    assert [v.id for v in victims or []] == [2]
