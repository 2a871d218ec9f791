"""The terminal noos-shell starts on: a serial console's, with no size, and a dumb TERM."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from noos_shell.pty_runner import set_window_size
from noos_shell.screens.main import KEYS_HINT
from noos_shell.terminal import ensure_terminal_size, plain_shell_argv

NOOS_SHELL = Path(sys.executable).with_name("noos-shell")
START_S = 20.0
CTRL_Q = b"\x11"


def test_a_terminal_without_size_gets_80x24() -> None:
    master, slave = pty.openpty()
    try:
        set_window_size(slave, 0, 0)
        assert ensure_terminal_size(slave) == (80, 24)
        assert os.get_terminal_size(slave) == os.terminal_size((80, 24))
        # A size it has is left alone.
        set_window_size(slave, 132, 43)
        assert ensure_terminal_size(slave) is None
        assert os.get_terminal_size(slave) == os.terminal_size((132, 43))
    finally:
        os.close(master)
        os.close(slave)


def test_no_terminal_is_left_alone(tmp_path: Path) -> None:
    with (tmp_path / "file").open("w") as file:
        assert ensure_terminal_size(file.fileno()) is None


def test_the_plain_shell_is_the_login_shell() -> None:
    assert plain_shell_argv({"SHELL": "/bin/zsh"}) == ["/bin/zsh", "-l"]
    assert plain_shell_argv({}) == ["/bin/bash", "-l"]
    # noos-shell as $SHELL would open itself again.
    assert plain_shell_argv({"SHELL": "/usr/bin/noos-shell"}) == ["/bin/bash", "-l"]


def read_until(master: int, marker: bytes, within_s: float) -> bytes:
    """What the terminal got, up to and including `marker`; AssertionError after `within_s`."""
    received = b""
    deadline = time.monotonic() + within_s
    while marker not in received:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} within {within_s} s: {received[-2000:]!r}"
        if select.select([master], [], [], left)[0]:
            try:
                received += os.read(master, 65536)
            except OSError:  # EIO: the other end closed
                break
    return received


@pytest.mark.parametrize("term", ["vt220", "linux"])
def test_it_starts_and_quits_on_a_serial_console(term: str, tmp_path: Path) -> None:
    """Size 0x0, as a serial console reports it: noos-shell draws at 80x24 and Ctrl+Q quits."""
    master, slave = pty.openpty()
    set_window_size(slave, 0, 0)
    environment = {**os.environ, "TERM": term, "HOME": str(tmp_path)}
    for name in ("COLUMNS", "LINES"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [str(NOOS_SHELL), "--bus", f"unix:path={tmp_path}/no-bus"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(slave)
    try:
        read_until(master, KEYS_HINT.split(" · ")[0].encode(), START_S)
        assert os.get_terminal_size(master) == os.terminal_size((80, 24))
        os.write(master, CTRL_Q)
        assert process.wait(START_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
