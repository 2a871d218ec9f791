"""Generation threads run at their job's class's nice value, and a preempted
job's thread at the waiting job's class's until it stops (real threads, the
kernel's nice values)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from noosd.scheduler.core.jobs import JobId, Priority
from noosd.scheduler.live.priorities import NICENESS, GenerationPriorities

# The process's own value (the tests may run under `nice`): no thread goes below it.
FLOOR = os.getpriority(os.PRIO_PROCESS, 0)
# Raising a thread's priority takes privilege (or an RLIMIT_NICE allowing it).
PRIVILEGED = os.geteuid() == 0


def niceness_of(thread: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, thread)


def run(
    pool: ThreadPoolExecutor,
    priorities: GenerationPriorities,
    job: JobId,
    priority: Priority,
    meanwhile: Callable[[int], None] = lambda thread: None,
) -> int:
    """Run `job` of class `priority` on the pool's thread, calling
    `meanwhile(thread)` from here while it runs; the thread's nice value then."""
    started, done = threading.Event(), threading.Event()
    native: list[int] = []

    def generate() -> None:
        with priorities.running(job, priority):
            native.append(threading.get_native_id())
            started.set()
            done.wait()

    ran = pool.submit(generate)
    started.wait()
    meanwhile(native[0])
    niceness = niceness_of(native[0])
    done.set()
    ran.result()
    return niceness


def test_a_jobs_thread_runs_at_its_class_niceness() -> None:
    priorities = GenerationPriorities()
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = run(pool, priorities, JobId(1), Priority.BATCH)
        normal = run(pool, priorities, JobId(2), Priority.NORMAL)

    assert batch == max(FLOOR, NICENESS[Priority.BATCH])
    # Back up to 5 on the same thread: only where raising is allowed.
    assert normal == (max(FLOOR, NICENESS[Priority.NORMAL]) if PRIVILEGED else batch)


def test_a_preempted_jobs_thread_runs_at_the_waiting_jobs_priority_until_it_stops() -> None:
    priorities = GenerationPriorities()
    with ThreadPoolExecutor(max_workers=1) as pool:
        hastened = run(
            pool,
            priorities,
            JobId(1),
            Priority.BATCH,
            lambda thread: priorities.hasten(JobId(1), Priority.INTERACTIVE),
        )
        # The thread's next batch job is at 19 again.
        next_batch = run(pool, priorities, JobId(2), Priority.BATCH)

    expected = max(FLOOR, NICENESS[Priority.INTERACTIVE]) if PRIVILEGED else 19
    assert hastened == expected
    assert next_batch == 19
