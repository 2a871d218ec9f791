"""`ReceivedFds`: a call's descriptors are closed at its end, but one a method takes."""

from __future__ import annotations

import os

import pytest

from noos.protocol.errors import InvalidArgument
from noosd.runtime.fds import ReceivedFds


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def test_close_closes_all_but_the_taken_one() -> None:
    (kept, kept_writer), (dropped, dropped_writer) = os.pipe(), os.pipe()
    fds = ReceivedFds([kept, dropped, dropped])

    assert fds.take(kept) == kept
    fds.close()
    fds.close()

    assert is_open(kept)
    assert not is_open(dropped)
    for fd in (kept, kept_writer, dropped_writer):
        os.close(fd)


def test_a_descriptor_that_did_not_come_with_the_call_cannot_be_taken() -> None:
    reader, writer = os.pipe()
    fds = ReceivedFds([reader])

    # Any other number is one of the service's own, like its standard error.
    with pytest.raises(InvalidArgument, match="stream_fd: no file descriptor came with the call"):
        fds.take(2, "stream_fd")
    fds.take(reader)
    with pytest.raises(InvalidArgument):
        fds.take(reader)
    os.close(reader)
    os.close(writer)
