"""The crawl's thread at the lowest CPU and I/O priority, and only that thread."""

from __future__ import annotations

import ctypes
import os
import platform
import threading

import pytest

from noosd.index.live.priority import IOPRIO_CLASS_SHIFT, IOPRIO_WHO_PROCESS, idle_this_thread

IOPRIO_GET = {"x86_64": 252, "aarch64": 31}


def io_class(thread: int) -> int:
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    value = syscall(IOPRIO_GET[platform.machine()], IOPRIO_WHO_PROCESS, thread)
    assert value >= 0, os.strerror(ctypes.get_errno())
    return int(value) >> IOPRIO_CLASS_SHIFT


@pytest.mark.skipif(platform.machine() not in IOPRIO_GET, reason="ioprio_get's number unknown")
def test_the_crawl_thread_alone_goes_idle() -> None:
    seen: dict[str, int] = {}

    def crawl() -> None:
        thread = threading.get_native_id()
        idle_this_thread()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, thread)
        seen["io"] = io_class(thread)

    worker = threading.Thread(target=crawl)
    worker.start()
    worker.join()
    assert seen == {"nice": 19, "io": 3}  # IOPRIO_CLASS_IDLE
    me = threading.get_native_id()
    assert os.getpriority(os.PRIO_PROCESS, me) < 19
    assert io_class(me) != 3
