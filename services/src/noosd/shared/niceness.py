"""CPU priorities of the services' threads, which share few cores.

Linux keeps a nice value per thread (setpriority(2) takes a thread id), so one
service can run its work at several priorities. From first to last:

- 0, interactive generation: a person waits on each token;
- `SERVICE_CALLS` (5, as normal-class generation): the memory's and the
  index's D-Bus calls, embedding a query or a note: short, but a flood of
  them from one user must not slow another's interactive answer to a crawl
  (`FairTurns` orders the calls; this, the CPU they take from generation);
- 19: batch generation, the index's crawl.

The event loops, which answer D-Bus, stay at the service's own value. Lowering
a thread's priority needs no privilege; raising it back needs CAP_SYS_NICE or
an RLIMIT_NICE that allows it (the scheduler's unit sets LimitNICE=).

In the image each service's unit sits in noos.slice and none sets CPUWeight=,
so the kernel shares the slice's CPU between all their threads by these values;
a CPUWeight= on one service would make it a group of its own, shared with the
others by weight whatever its threads' values.
"""

from __future__ import annotations

import contextlib
import os
import threading

SERVICE_CALLS = 5


def set_thread_niceness(thread: int, niceness: int) -> bool:
    """Put thread `thread` (a native id) at `niceness`; False if not allowed
    (raising a priority without the privilege to)."""
    try:
        os.setpriority(os.PRIO_PROCESS, thread, niceness)
    except OSError:
        return False
    return True


def lower_this_thread(niceness: int) -> None:
    """Lower the calling thread's CPU priority to `niceness`, never raise it: a
    service started at nice 10 keeps 10. A thread pool's initializer."""
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        set_thread_niceness(thread, max(os.getpriority(os.PRIO_PROCESS, thread), niceness))
