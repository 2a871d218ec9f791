"""Who runs next: priority classes, fair share within a class, and preemption.

Classes are strict: a waiting interactive job goes before every normal one,
and a normal one before every batch one. Within a class, users share by the
work they have had, as CFS shares a CPU between tasks: each user has a virtual
time in each class, charged with a job's whole work (`Job.work`) when it
starts, so that two jobs starting at once go to two users, and refunded the
work it did not do when it ends. The user with the least virtual time goes
first, their jobs in the order they came (preempted ones first: they started
earlier). A user who returns after an idle spell comes back at the class's
floor, the least virtual time of the users waiting then, so that idleness
banks no credit to flood the class with later. A class of lower priority can
starve while a higher one has work: interactive work is human-paced.

A waiting job may preempt running jobs of a lower class when that lets it run:
the lowest class first and, within it, the latest started (the one longest
running keeps its progress toward the end), and no more of them than needed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence

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

    def in_order(self) -> list[Job]:
        """Every waiting job, in the order they should get compute.

        Within a class, the order is what starting them one after the other
        would give: each pick charges its owner the job's work (nothing for a
        preempted job, charged when it first started), as `charge` will.
        """
        order: list[Job] = []
        for priority in sorted(Priority, reverse=True):
            users = self._waiting[priority]
            heap = [
                (self.vtime(priority, uid), jobs[0].submission, uid, 0)
                for uid, jobs in users.items()
            ]
            heapq.heapify(heap)
            while heap:
                vtime, _, uid, index = heapq.heappop(heap)
                job = users[uid][index]
                order.append(job)
                if job.started_at is None:
                    vtime += job.work(self.prefill_weight)
                if index + 1 < len(users[uid]):
                    heapq.heappush(heap, (vtime, users[uid][index + 1].submission, uid, index + 1))
        return order


def preemption_victims(
    candidate: Job, running: Sequence[Job], enough: Callable[[list[Job]], bool]
) -> list[Job] | None:
    """The fewest running jobs of lower classes whose preemption lets `candidate`
    run, as `enough` tells; None when preempting them all would not."""
    lower = sorted(
        (job for job in running if job.priority < candidate.priority),
        key=lambda job: (job.priority, -job.run_order),
    )
    chosen: list[Job] = []
    for job in lower:
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
