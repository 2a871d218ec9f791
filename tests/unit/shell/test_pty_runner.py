"""Commands in a pseudo-terminal: output, exit status, interrupts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from noos_shell.pty_runner import PtyCommand, clean_output, run_command


async def test_echo_says_hi() -> None:
    result = await run_command("echo hi")
    assert result.output == "hi\n"
    assert result.exit_status == 0
    assert result.succeeded


async def test_false_exits_1() -> None:
    result = await run_command("false")
    assert result.exit_status == 1
    assert not result.succeeded


async def test_output_arrives_as_it_is_written() -> None:
    pieces: list[str] = []
    await run_command("echo one; sleep 0.2; echo two", pieces.append)
    assert len(pieces) >= 2
    assert "".join(pieces).replace("\r\n", "\n") == "one\ntwo\n"


async def test_the_command_sees_a_terminal(tmp_path: Path) -> None:
    result = await run_command("test -t 0 && test -t 1 && tty && pwd", cwd=tmp_path)
    assert result.exit_status == 0
    assert result.output.splitlines()[0].startswith("/dev/pts/")
    assert result.output.splitlines()[1] == str(tmp_path)


async def test_interrupt_ends_sleep_30() -> None:
    command = PtyCommand("sleep 30")
    started = time.monotonic()
    running = asyncio.create_task(command.run())
    await asyncio.sleep(0.3)
    command.interrupt()
    result = await running
    assert result.exit_status == 130  # 128 + SIGINT, as a shell says
    assert time.monotonic() - started < 5


async def test_interrupt_reaches_the_whole_process_group() -> None:
    command = PtyCommand("sleep 30 | cat")
    running = asyncio.create_task(command.run())
    await asyncio.sleep(0.3)
    command.interrupt()
    result = await asyncio.wait_for(running, 5)
    assert result.exit_status != 0


async def test_cancelling_the_task_ends_the_command() -> None:
    running = asyncio.create_task(run_command("sleep 30"))
    await asyncio.sleep(0.3)
    running.cancel()
    started = time.monotonic()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert running.cancelled()
    assert time.monotonic() - started < 5


async def test_time_limit_interrupts() -> None:
    result = await run_command("sleep 30", time_limit_s=0.3)
    assert result.exit_status == 130


async def test_typed_input_reaches_the_command() -> None:
    command = PtyCommand("read answer; echo got $answer")
    running = asyncio.create_task(command.run())
    await asyncio.sleep(0.2)
    command.write("yes\n")
    result = await asyncio.wait_for(running, 5)
    assert result.output.splitlines()[-1] == "got yes"


def test_clean_output_keeps_colours_and_drops_the_rest() -> None:
    raw = "\x1b]0;title\x07\x1b[31mred\x1b[0m\r\n10%\r50%\r100%\r\n\x1b[2Kdone"
    assert clean_output(raw) == "\x1b[31mred\x1b[0m\n100%\ndone"
