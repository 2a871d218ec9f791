"""The file descriptors a message brought: the runtime's to close, unless a method takes one.

Every service negotiates fd passing (a caller may pass a pipe to stream into),
so any caller may attach descriptors to any message: a call of any method, one
that fails, one with a wrong signature, a signal. The kernel installs them in
this process whether or not anything wants them; left open, about a thousand
calls from anyone fill the descriptor table for everyone.

So a method that keeps a descriptor declares how many it takes
(`noos_method(takes_fds=N)`): a call of it that brings more is refused before
it runs, and the descriptors of a call of any other method are closed as soon
as its dispatch returns, even while the call goes on. What the service holds
for its callers is then bounded by its calls in flight of such methods.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from noos.protocol.errors import InvalidArgument

# The attribute of a method that says how many descriptors a call may bring
# for it to take (`noos_method(takes_fds=N)`); absent, none.
TAKES_FDS = "__noos_takes_fds__"


def fds_taken_by(method: object) -> int:
    """How many descriptors `method` may take from its call."""
    count = getattr(method, TAKES_FDS, 0)
    return count if isinstance(count, int) else 0


class ReceivedFds:
    """The descriptors that came with one message, until its call ends.

    `take` hands one over to whoever keeps it past the call (and must close
    it); `close` closes the rest. Closing twice closes nothing the second time.
    """

    def __init__(self, fds: Sequence[int] = ()) -> None:
        # A descriptor is received once, whatever indexes the body gives it.
        self._open = list(dict.fromkeys(fds))
        # Set while a method's task, not the dispatch, is to close them.
        self.held_by_task = False

    def __bool__(self) -> bool:
        return bool(self._open)

    def __len__(self) -> int:
        return len(self._open)

    def take(self, fd: int, what: str = "the descriptor") -> int:
        """Keep `fd` open past the call: the caller of `take` closes it from now on.

        Only a descriptor that came with this call: any other number is one of
        the service's own (its bus socket, a log), which a caller must never
        get the service to use for it.
        """
        if fd not in self._open:
            raise InvalidArgument(
                f"{what}: no file descriptor came with the call at that index "
                "(the client's connection must negotiate Unix fd passing)"
            )
        self._open.remove(fd)
        return fd

    def close(self) -> None:
        """Close every descriptor not taken."""
        fds, self._open = self._open, []
        for fd in fds:
            # A close that fails (EBADF, EIO) leaves nothing to undo.
            with contextlib.suppress(OSError):
                os.close(fd)
