"""What the engine keeps of each job beside the policy core's record: its prompt,
its text so far, where its tokens go, and whether its owner was told it ended."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from noosd.runtime.health import beat
from noosd.scheduler.backends.base import Control, Prompt, Stop
from noosd.scheduler.core.jobs import JobId, JobInfo, Sampling

_log = logging.getLogger(__name__)


class TextPipe:
    """A pipe the caller passed to read the text from as it is made.

    Written from the generation's thread without blocking: a reader that
    stops reading loses its stream (the pipe is closed), never the job.
    """

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        os.set_blocking(fd, False)
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            data = text.encode()
            while data and self._fd is not None:
                try:
                    data = data[os.write(self._fd, data) :]
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EPIPE):
                        _log.warning("a job's stream pipe failed: %s", error)
                    self._close_locked()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(eq=False)
class JobRecord:
    id: JobId
    owner: int
    model: str
    prompt: Prompt
    # The prompt's tokens (empty for a remote model, which tokenizes its own).
    tokens: tuple[int, ...]
    sampling: Sampling
    max_tokens: int
    submitted_wall: float
    pipe: TextPipe | None = None
    pieces: list[str] = field(default_factory=list)
    # Tokens made before a preemption, to continue after.
    generated: tuple[int, ...] = ()
    # Prompt tokens a saved state held when the job started: not evaluated again.
    cached_tokens: int = 0
    # The connections (unique bus names) its signals go to.
    watchers: set[str] = field(default_factory=set)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


# Called on the event loop with each piece of text a run made, and its tokens.
OnEmit = Callable[[JobRecord, str, int], None]


@dataclass(frozen=True)
class JobView:
    """A job as its owner reads it: the core's info, its text, and when it came."""

    info: JobInfo
    text: str
    submitted_wall: float
    cached_tokens: int


class RunControl(Control):
    """The engine's side of one run of a job: the stop it asks for, and where
    the tokens the runtime makes go (the event loop, and the job's pipe)."""

    def __init__(self, record: JobRecord, loop: asyncio.AbstractEventLoop, on_emit: OnEmit) -> None:
        self.record = record
        self._loop = loop
        self._on_emit = on_emit
        self._stop: Stop | None = None

    def request(self, stop: Stop) -> None:
        # A cancel overrides a preempt asked for before; nothing overrides a cancel.
        if self._stop is not Stop.CANCEL:
            self._stop = stop

    def stop_requested(self) -> Stop | None:
        beat()  # asked between llama.cpp's batches and tokens: the run goes on
        return self._stop

    def emit(self, text: str, tokens: int) -> None:
        beat()
        if self.record.pipe is not None and text:
            self.record.pipe.write(text)
        self._loop.call_soon_threadsafe(self._on_emit, self.record, text, tokens)
