"""The CPU priority of each generation thread: its job's class's, and a
preempted job's raised until it stops.

With more runnable threads than cores, the kernel shares the CPU by nice
value (`noosd.shared.niceness`): an interactive job's prefill next to a batch
job's generation took 2.1x its idle time in the TTFT benchmark, 1.05x with
the batch thread at nice 19; beside a flood of other users' calls (their
clients and the bus daemon at nice 0), 12x at nice 0. So interactive
generation runs above everything else of the machine's normal work.

The values are offsets from the service's own nice value: an administrator
who starts the scheduler at nice 10 moves every class by 10. How far above
its own value a thread may go is the unit's LimitNICE= (or CAP_SYS_NICE).

A preempted job keeps its slot until its thread reaches a token boundary and
saves its KV state, and the job that preempted it waits for that: at nice 19
on a busy machine the thread may get no CPU for seconds (it did: 7.3 s in
the load benchmark, a priority inversion). So its thread runs at the
priority of the job it makes room for until it stops.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from noosd.scheduler.core.jobs import JobId, Priority
from noosd.shared.niceness import set_thread_niceness

# Nice values are per thread on Linux; these are offsets from the service's.
NICENESS = {Priority.INTERACTIVE: -10, Priority.NORMAL: 5, Priority.BATCH: 19}


class GenerationPriorities:
    """Which thread runs which job, to set their priorities."""

    def __init__(self) -> None:
        self._base = os.getpriority(os.PRIO_PROCESS, 0)
        self._lock = threading.Lock()
        self._threads: dict[JobId, int] = {}

    def niceness(self, priority: Priority) -> int:
        """The nice value wanted for a thread generating for class `priority`."""
        return self._base + NICENESS[priority]

    def work_for(self, priority: Priority) -> None:
        """Put the calling thread at class `priority`'s CPU priority: the
        initializer of a thread pool that works for one class."""
        set_thread_niceness(threading.get_native_id(), self.niceness(priority))

    @contextlib.contextmanager
    def running(self, job: JobId, priority: Priority) -> Iterator[None]:
        """The calling thread runs `job`, of class `priority`, inside."""
        thread = threading.get_native_id()
        with self._lock:
            self._threads[job] = thread
            # Set at every run: the thread's last job may have been raised.
            set_thread_niceness(thread, self.niceness(priority))
        try:
            yield
        finally:
            with self._lock:
                del self._threads[job]

    def hasten(self, job: JobId, priority: Priority) -> None:
        """Run `job`'s thread, if it runs, at the priority of class `priority`
        until the job stops (it was told to preempt for a job of that class)."""
        with self._lock:
            thread = self._threads.get(job)
            if thread is not None:
                set_thread_niceness(thread, self.niceness(priority))
