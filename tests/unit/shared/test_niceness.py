"""A thread lowers its own CPU priority, never raises it."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from noosd.shared.niceness import SERVICE_CALLS, lower_this_thread, set_thread_niceness


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


def niceness_set_in_a_thread(niceness: int, before: int) -> tuple[int | None, int]:
    """A new thread at `before` asks for `niceness`: what it is told, what it has."""
    seen: list[tuple[int | None, int]] = []

    def ask() -> None:
        thread = threading.get_native_id()
        set_thread_niceness(thread, before)
        seen.append(
            (set_thread_niceness(thread, niceness), os.getpriority(os.PRIO_PROCESS, thread))
        )

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join()
    return seen[0]


def test_a_thread_is_raised_as_far_as_it_is_allowed() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    privileged = os.geteuid() == 0
    lowest_allowed = -20 if privileged else 20 - soft

    told, has = niceness_set_in_a_thread(-10, before=19)

    assert told == has == (-10 if privileged else max(-10, min(19, lowest_allowed)))


UNPRIVILEGED = """
import os, threading
from noosd.shared.niceness import set_thread_niceness
os.setgroups([]); os.setgid(65534); os.setuid(65534)
thread = threading.get_native_id()
set_thread_niceness(thread, 5)
print(set_thread_niceness(thread, -10), os.getpriority(os.PRIO_PROCESS, thread))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="becomes another uid")
def test_a_thread_without_the_right_to_be_raised_stays_where_it_was() -> None:
    # Not sent to 19, the one value below 5 it may take with no RLIMIT_NICE.
    shown = subprocess.run(
        [sys.executable, "-c", UNPRIVILEGED], capture_output=True, text=True, check=True
    ).stdout.split()
    allowed = 20 - resource.getrlimit(resource.RLIMIT_NICE)[0]

    assert shown == [str(min(5, max(-10, allowed)))] * 2
