"""A thread lowers its own CPU priority, never raises it."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from noosd.shared.niceness import SERVICE_CALLS, lower_this_thread


def pool_thread_niceness(niceness: int) -> int:
    with ThreadPoolExecutor(
        max_workers=1, initializer=lower_this_thread, initargs=(niceness,)
    ) as pool:
        return pool.submit(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        ).result()


def test_a_pool_of_service_calls_runs_below_interactive_generation() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)

    assert pool_thread_niceness(SERVICE_CALLS) == max(own, SERVICE_CALLS)
    # Never raised: asked for 0 under `nice -n 10`, the thread keeps 10.
    assert pool_thread_niceness(0) == own
