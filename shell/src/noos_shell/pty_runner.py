"""Run a command line in a pseudo-terminal of its own, as the user, and collect what it says.

The command sees a terminal (colours, line buffering, `isatty`), leads a
process group of its own so that an interrupt reaches everything it started,
and its output arrives piece by piece while it runs.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import fcntl
import os
import re
import signal
import struct
import termios
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

READ_SIZE = 65536
# After an interrupt, how long the command has to end before it is killed.
KILL_AFTER_S = 2.0
# Once the command has exited, how long its output may still trickle in
# (a background child may hold the terminal open for ever).
DRAIN_S = 0.5
# Pagers would wait for keys that never come: the transcript is the pager.
QUIET_ENVIRONMENT = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "SYSTEMD_PAGER": "",
    "TERM": "xterm-256color",
}
# Control sequences other than colours: cursor moves, titles, modes.
NON_COLOUR_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(\x07|\x1b\\)"  # titles and other OSC strings
    r"|\x1b\[[0-9;?]*[A-Za-ln-z]"  # CSI sequences but SGR (colours end in m)
    r"|\x1b[=>]"  # keypad modes
)


@dataclass(frozen=True)
class CommandResult:
    """How a command ended: its exit status (128 + N when signal N ended it, as
    in a shell), everything it wrote, and how long it took."""

    command: str
    exit_status: int
    output: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.exit_status == 0


def exit_status_of(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def clean_output(raw: str) -> str:
    """`raw` terminal output as text for a transcript: line ends made plain, each
    line as a carriage return left it, escapes other than colours dropped."""
    text = NON_COLOUR_ESCAPES.sub("", raw.replace("\r\n", "\n"))
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def user_shell() -> str:
    return os.environ.get("SHELL") or "/bin/sh"


def set_window_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def take_controlling_terminal() -> None:
    """In the child, a session leader already: make its terminal (fd 0) the
    controlling one, as a login shell's is, for programs that open /dev/tty;
    and let Ctrl+C and Ctrl+\\ reach the command even when noos-shell itself
    was started with them ignored (as anything started in the background is)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


class PtyCommand:
    """One command line running in a pseudo-terminal."""

    def __init__(
        self,
        command: str,
        on_output: Callable[[str], None] | None = None,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        columns: int = 80,
        rows: int = 24,
    ) -> None:
        self.command = command
        self._on_output = on_output
        self._cwd = cwd
        self._env = {**os.environ, **QUIET_ENVIRONMENT, **(env or {})}
        self._size = (columns, rows)
        self._chunks: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._master = -1
        self._eof = asyncio.Event()
        # A character may come split across two reads.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def run(self, time_limit_s: float | None = None) -> CommandResult:
        """Run the command to its end; interrupted after `time_limit_s` seconds, or when
        the task running this is cancelled (then killed, if it will not end)."""
        started = time.monotonic()
        master, slave = os.openpty()
        self._master = master
        try:
            set_window_size(slave, *self._size)
            self._process = await asyncio.create_subprocess_exec(
                user_shell(),
                "-c",
                self.command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self._cwd,
                env=self._env,
                start_new_session=True,
                preexec_fn=take_controlling_terminal,
            )
            # Only the child holds the terminal now: its end is our end of file.
            os.close(slave)
            slave = -1
            asyncio.get_running_loop().add_reader(master, self._read)
            returncode = await self._wait(time_limit_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._eof.wait(), DRAIN_S)
        finally:
            self._close(master, slave)
        output = clean_output("".join(self._chunks))
        return CommandResult(
            self.command, exit_status_of(returncode), output, time.monotonic() - started
        )

    def interrupt(self) -> None:
        """Send SIGINT to the command's process group, as Ctrl+C in a terminal does."""
        self._signal(signal.SIGINT)

    def write(self, text: str) -> None:
        """Type `text` into the command's terminal."""
        if self._master >= 0:
            os.write(self._master, text.encode())

    async def _wait(self, time_limit_s: float | None) -> int:
        assert self._process is not None
        try:
            return await asyncio.wait_for(self._process.wait(), time_limit_s)
        except TimeoutError:
            await self._stop()
        except asyncio.CancelledError:
            await self._stop()
            raise
        return await self._process.wait()

    async def _stop(self) -> None:
        """Interrupt the command; kill it if it has not ended after KILL_AFTER_S."""
        assert self._process is not None
        self.interrupt()
        try:
            await asyncio.wait_for(asyncio.shield(self._process.wait()), KILL_AFTER_S)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self._process.wait()

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signum)

    def _read(self) -> None:
        try:
            data = os.read(self._master, READ_SIZE)
        except OSError:  # EIO: every holder of the terminal's other end closed it.
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self._master)
            self._eof.set()
            return
        text = self._decoder.decode(data)
        self._chunks.append(text)
        if self._on_output is not None:
            self._on_output(text)

    def _close(self, master: int, slave: int) -> None:
        with contextlib.suppress(ValueError, RuntimeError):
            asyncio.get_running_loop().remove_reader(master)
        self._master = -1
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


async def run_command(
    command: str,
    on_output: Callable[[str], None] | None = None,
    *,
    cwd: Path | None = None,
    time_limit_s: float | None = None,
) -> CommandResult:
    """Run `command` in a pseudo-terminal to its end (see `PtyCommand`)."""
    return await PtyCommand(command, on_output, cwd=cwd).run(time_limit_s)
