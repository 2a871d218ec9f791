"""Who runs next: priority classes, fair share within a class, and preemption.

Classes are strict: a waiting interactive job goes before every normal one,
and a normal one before every batch one. Within a class, users share by the
work they have had, as CFS shares a CPU between tasks: each user has a virtual
time in each class, charged with a job's whole work (`Job.work`) when it
starts, so that two jobs starting at once go to two users, and refunded the
work it did not do when it ends. The user with the least virtual time goes
first, their jobs in the order they came (preempted ones first: they started
earlier); between users of equal virtual time, the one with fewer jobs
running and waiting, so that a flood's backlog never goes before another
user's job. A user who returns after an idle spell comes back at the class's
floor, the least virtual time of the users waiting then, so that idleness
banks no credit to flood the class with later; there it ties with the user
of least virtual time, and goes first unless that user has fewer jobs. A
class of lower priority can starve while a higher one has work: interactive
work is human-paced.

A waiting job may preempt running jobs when that lets it run: jobs of a
lower class and, when its owner runs nothing, jobs of its own class that
users holding two or more slots run (never the last job of theirs: a user
who holds several slots while another holds none gives one back, and the
two can never preempt each other in turn). Lower classes go first, the
lowest first; then the users holding the most; within that, the latest
started (the one longest running keeps its progress toward the end); and no
more of them than needed.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence

from noosd.scheduler.core.jobs import Job, Priority


def _queue_order(job: Job) -> tuple[int, int]:
    return (0 if job.started_at is not None else 1, job.submission)


class RunQueue:
    """The jobs waiting for compute: queued, and preempted ones to resume."""

    def __init__(self, prefill_weight: float) -> None:
        self.prefill_weight = prefill_weight
        self._waiting: dict[Priority, dict[int, list[Job]]] = {p: {} for p in Priority}
        self._vtime: dict[Priority, dict[int, float]] = {p: {} for p in Priority}
        self._floor: dict[Priority, float] = dict.fromkeys(Priority, 0.0)

    def __len__(self) -> int:
        return sum(len(jobs) for users in self._waiting.values() for jobs in users.values())

    def __iter__(self) -> Iterator[Job]:
        for users in self._waiting.values():
            for jobs in users.values():
                yield from jobs

    def vtime(self, priority: Priority, uid: int) -> float:
        return self._vtime[priority].get(uid, 0.0)

    def add(self, job: Job) -> None:
        users = self._waiting[job.priority]
        vtimes = self._vtime[job.priority]
        if job.owner not in users:
            if users:
                floor = min(vtimes.get(uid, 0.0) for uid in users)
                self._floor[job.priority] = max(self._floor[job.priority], floor)
            vtimes[job.owner] = max(vtimes.get(job.owner, 0.0), self._floor[job.priority])
        jobs = users.setdefault(job.owner, [])
        jobs.append(job)
        jobs.sort(key=_queue_order)

    def remove(self, job: Job) -> None:
        users = self._waiting[job.priority]
        jobs = users.get(job.owner, [])
        if job in jobs:
            jobs.remove(job)
            if not jobs:
                del users[job.owner]

    def charge(self, job: Job, work: float) -> None:
        """Add `work` (negative: a refund) to the virtual time of the job's owner."""
        vtimes = self._vtime[job.priority]
        vtimes[job.owner] = vtimes.get(job.owner, 0.0) + work

    def in_order(self, running: Mapping[int, int] | None = None) -> list[Job]:
        """Every waiting job, in the order they should get compute; `running`:
        how many jobs each user runs (none if left out).

        Within a class, the order is what starting them one after the other
        would give: each pick charges its owner the job's work (nothing for a
        preempted job, charged when it first started), as `charge` will.
        """
        running = running or {}
        order: list[Job] = []
        for priority in sorted(Priority, reverse=True):
            users = self._waiting[priority]
            heap = [
                _turn(self.vtime(priority, uid), jobs, running.get(uid, 0), uid, 0)
                for uid, jobs in users.items()
            ]
            heapq.heapify(heap)
            while heap:
                vtime, _, _, uid, index = heapq.heappop(heap)
                job = users[uid][index]
                order.append(job)
                if job.started_at is None:
                    vtime += job.work(self.prefill_weight)
                if index + 1 < len(users[uid]):
                    turn = _turn(vtime, users[uid], running.get(uid, 0), uid, index + 1)
                    heapq.heappush(heap, turn)
        return order


def _turn(
    vtime: float, jobs: list[Job], running: int, uid: int, index: int
) -> tuple[float, int, int, int, int]:
    """A user's place in line, for their job `jobs[index]`: by virtual time,
    then by all their jobs, running and waiting (which a pick leaves as it
    is), then by arrival."""
    return (vtime, running + len(jobs), jobs[index].submission, uid, index)


def preemption_victims(
    candidate: Job, running: Sequence[Job], enough: Callable[[list[Job]], bool]
) -> list[Job] | None:
    """The fewest running jobs that `candidate` may preempt (see the module's
    text) whose preemption lets it run, as `enough` tells; None when
    preempting them all would not."""
    held = Counter(job.owner for job in running)
    own_class = held[candidate.owner] == 0
    preemptible = sorted(
        (
            job
            for job in running
            if job.priority < candidate.priority
            or (own_class and job.priority == candidate.priority and held[job.owner] > 1)
        ),
        key=lambda job: (job.priority, -held[job.owner], -job.run_order),
    )
    chosen: list[Job] = []
    for job in preemptible:
        if job.priority == candidate.priority and held[job.owner] < 2:
            continue  # their last job, once the picks before it are gone
        held[job.owner] -= 1
        chosen.append(job)
        if enough(chosen):
            break
    else:
        return None
    # A pick may be unnecessary once a later one was taken (it freed threads,
    # but the slot wanted is on another model): spare those, the most valuable first.
    for spared in reversed(list(chosen)):
        rest = [job for job in chosen if job is not spared]
        if enough(rest):
            chosen = rest
    return chosen
