"""The crawl's priority: the lowest, for its thread alone.

A first crawl reads and embeds every file of every home: minutes to hours
that must not slow down what the user is doing. Linux keeps a nice value and
an I/O priority per thread (setpriority(2) and ioprio_set(2) take a thread
id), and the crawler's thread does all of the crawl's work itself: the walk,
and the engine's reading, chunking and embedding of each batch. So that
thread alone runs at nice 19 in the idle I/O class, and the same service
still answers a search, or indexes the file just saved, at normal priority.

The alternative, Nice= and IOSchedulingClass= for the whole unit, would slow
users' searches and fresh edits as much as the crawl. No privilege is needed:
anyone may lower their own priority. The I/O class matters only under a
scheduler that honours it (BFQ; mq-deadline in part); the nice value always.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import threading
from collections.abc import Callable

from noosd.shared.niceness import LOWEST, lower_this_thread

IOPRIO_WHO_PROCESS = 1  # which takes a thread id, despite its name
IOPRIO_CLASS_SHIFT = 13
IOPRIO_CLASS_IDLE = 3
# ioprio_set(2) has no wrapper in glibc or in os: its number, by architecture.
IOPRIO_SET = {"x86_64": 251, "aarch64": 30}

_log = logging.getLogger(__name__)


def _syscall() -> Callable[..., int] | None:
    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    return function


def idle_this_thread() -> None:
    """Put the calling thread at the lowest CPU and I/O priority, for good."""
    lower_this_thread(LOWEST)
    syscall, number = _syscall(), IOPRIO_SET.get(platform.machine())
    idle = IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT
    thread = threading.get_native_id()
    if syscall is None or number is None or syscall(number, IOPRIO_WHO_PROCESS, thread, idle) != 0:
        _log.warning("cannot lower the crawl's I/O priority on %s", platform.machine())
