"""CPU priorities of the services' threads, which share few cores.

Linux keeps a nice value per thread (setpriority(2) takes a thread id), so one
service can run its work at several priorities. From first to last:

- -10, interactive generation: a person waits on each token, and a flood of
  other work (other users' calls, their clients, the bus daemon, all at 0)
  must not slow their prefill: at 0 beside that flood on 2 cores, the time
  to first token was 12x its idle value in the load benchmark;
- `SERVICE_CALLS` (5, as normal-class generation): the memory's and the
  index's D-Bus calls, embedding a query or a note: short, but a flood of
  them from one user must not slow another's interactive answer to a crawl
  (`FairTurns` orders the calls; this, the CPU they take from generation);
- 19: batch generation, the index's crawl.

The event loops, which answer D-Bus, stay at the service's own value. Lowering
a thread's priority needs no privilege; raising it (below the value it had)
needs CAP_SYS_NICE or an RLIMIT_NICE that allows it: the scheduler's unit sets
LimitNICE=, and a value beyond what is allowed is taken as far as it is.

In the image each service's unit sits in noos.slice and none sets CPUWeight=,
so the kernel shares the slice's CPU between all their threads by these values;
a CPUWeight= on one service would make it a group of its own, shared with the
others by weight whatever its threads' values.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading

SERVICE_CALLS = 5
# setpriority(2)'s range.
HIGHEST, LOWEST = -20, 19


def permitted(thread: int, niceness: int) -> int:
    """The nice value nearest `niceness` that thread `thread` may be given
    without CAP_SYS_NICE: any value at or above its own, and, with an
    RLIMIT_NICE soft limit of L, any at or above 20 - L."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    floor = HIGHEST if soft == resource.RLIM_INFINITY else 20 - min(soft, 40)
    current = os.getpriority(os.PRIO_PROCESS, thread)
    return min(LOWEST, max(niceness, min(current, floor), HIGHEST))


def set_thread_niceness(thread: int, niceness: int) -> int | None:
    """Put thread `thread` (a native id) at `niceness`, or as near as this
    process is allowed to raise it; the value it has then, None if it could
    not be changed (it is gone)."""
    wanted = min(LOWEST, max(HIGHEST, niceness))
    try:
        os.setpriority(os.PRIO_PROCESS, thread, wanted)
        return wanted
    except OSError:
        pass
    try:
        nearest = permitted(thread, wanted)
        os.setpriority(os.PRIO_PROCESS, thread, nearest)
    except OSError:
        return None
    return nearest


def lower_this_thread(niceness: int) -> None:
    """Lower the calling thread's CPU priority to `niceness`, never raise it: a
    service started at nice 10 keeps 10. A thread pool's initializer."""
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        set_thread_niceness(thread, max(os.getpriority(os.PRIO_PROCESS, thread), niceness))
