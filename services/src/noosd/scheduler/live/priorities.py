"""The CPU priority of each generation thread: its job's class's, and a
preempted job's raised until it stops.

With more runnable threads than cores, the kernel shares the CPU by nice
value (`noosd.shared.niceness`): an interactive job's prefill next to a batch
job's generation took 2.1x its idle time in the TTFT benchmark, 1.05x with
the batch thread at nice 19. But a preempted job keeps its slot until its
thread reaches a token boundary and saves its KV state, and the job that
preempted it waits for that: at nice 19 on a busy machine the thread may get
no CPU for seconds (it did: 7.3 s in the load benchmark, a priority
inversion). So its thread runs at the priority of the job it makes room for
until it stops. That raise needs CAP_SYS_NICE or an RLIMIT_NICE allowing it
(the unit's LimitNICE=); without either, the thread stays where it was.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from noosd.scheduler.core.jobs import JobId, Priority
from noosd.shared.niceness import set_thread_niceness

# Nice values are per thread on Linux.
NICENESS = {Priority.INTERACTIVE: 0, Priority.NORMAL: 5, Priority.BATCH: 19}


class GenerationPriorities:
    """Which thread runs which job, to set their priorities."""

    def __init__(self) -> None:
        # The service's own value: no thread goes below it (nice 10 keeps 10).
        self._floor = os.getpriority(os.PRIO_PROCESS, 0)
        self._lock = threading.Lock()
        self._threads: dict[JobId, int] = {}

    @contextlib.contextmanager
    def running(self, job: JobId, priority: Priority) -> Iterator[None]:
        """The calling thread runs `job`, of class `priority`, inside."""
        thread = threading.get_native_id()
        with self._lock:
            self._threads[job] = thread
            # Set at every run: the thread's last job may have been raised.
            set_thread_niceness(thread, max(self._floor, NICENESS[priority]))
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
                set_thread_niceness(thread, max(self._floor, NICENESS[priority]))
