"""noos-shell in the booted image, driven on the serial console as a new user
at `make run` would: a plain command, a file found by description, and the
plain login shell one keystroke away."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from noos_qemu import Machine
from noos_qemu.machine import SCREEN_GAP, screen_pattern

from .conftest import measure
from .services import ServiceWatch

pytestmark = pytest.mark.e2e

ENTER = "\r"
CTRL_C = "\x03"
CTRL_Q = "\x11"
NOTE = "/home/user/notes/staking.md"


def fresh_shell(machine: Machine) -> float:
    """A new login on the serial console, which starts noos-shell: each test
    begins from a shell of its own, whatever the one before left on screen.
    Returns the seconds from the login to noos-shell on screen."""
    machine.wait_for_console_text(r"noos login: user \(automatic login\)", timeout=600)
    since = machine.console_position()
    machine.succeed("systemctl restart serial-getty@ttyS0.service")
    started = time.monotonic()
    machine.wait_for_console_text(r"noos login: user \(automatic login\)", 600, since)
    # From here on: the shell the getty killed may draw its status line as it
    # goes, and keys typed before the new one draws it go to the login shell.
    since = machine.console_position()
    machine.wait_for_screen_text("scheduler:", 600, since)
    return time.monotonic() - started


def test_a_new_user_lands_in_noos_shell_and_runs_a_command(machine: Machine) -> None:
    measure("shell: console login to noos-shell on screen (s)", fresh_shell(machine))
    assert "noos-shell" in machine.succeed("ps -o comm= -u user")

    # $((6*7)) so that what is found is the command's output, not its echo.
    since = machine.console_position()
    machine.type_on_console("echo hi-$((6*7))" + ENTER)
    machine.wait_for_screen_text("hi-42", 300, since)


def test_a_file_is_found_by_its_description(machine: Machine) -> None:
    fresh_shell(machine)
    machine.succeed(
        "install -d -o user -g user /home/user/notes && "
        f"printf '# Staking\\n\\nThe tomatoes need staking before the June storms.\\n' > {NOTE} && "
        f"chown user:user {NOTE}"
    )
    machine.wait_until_succeeds(
        f"runuser -u user -- noos index search 'staking tomatoes' | grep -q {NOTE}",
        timeout=600,  # under the test's own limit, so that the wait reports the index's account
        watch=ServiceWatch(machine, ["index"]),
    )
    since = machine.console_position()
    started = time.monotonic()
    machine.type_on_console("find the note about staking tomatoes" + ENTER)
    machine.wait_for_screen_text("staking.md", 600, since)
    measure("shell: `find …` typed to the file on screen (s)", time.monotonic() - started)


# Root's view of the scheduler's jobs, through busctl: the test polls it, and a
# Python CLI started every few seconds would take the guest's CPU (under TCG)
# from the very job it waits for.
JOBS = "busctl --json=short call org.noos.Scheduler1 /org/noos/Scheduler1 org.noos.Scheduler1 Jobs"
NEWEST_JOB = f"{JOBS} | grep -o '/org/noos/Scheduler1/jobs/[0-9]*' | tail -n 1"


def job_info(machine: Machine, job: str) -> dict[str, Any]:
    reply = machine.succeed(
        f"busctl --json=short call org.noos.Scheduler1 {job} org.noos.Scheduler1.Job Info"
    )
    return {key: value["data"] for key, value in json.loads(reply)["data"][0].items()}


# A fresh login, then the question's context read at ~0.6-4.8 s a token under TCG.
@pytest.mark.timeout(1500, method="signal")
def test_a_question_is_answered_by_the_scheduler_as_the_user(machine: Machine) -> None:
    fresh_shell(machine)
    last_before = machine.succeed(NEWEST_JOB).strip()
    since = machine.console_position()
    started = time.monotonic()
    question = "? what colour is the sky on a clear day"
    machine.type_on_console(question + ENTER)
    # As typed (keys that came while the focus moved once went in out of order).
    machine.wait_for_screen_text(question, 300, since)
    # While the model reads the question's context, the wait shows its seconds.
    seconds = SCREEN_GAP.join((screen_pattern("thinking…"), r"\d+", "s"))
    machine.wait_for_console_text(seconds, 300, since)
    # Streaming: a new job has made tokens (a whole answer of 384 tokens takes
    # minutes under TCG, and reading its context can take more than one).
    machine.wait_until_succeeds(
        f'job=$({NEWEST_JOB}); [ -n "$job" ] && [ "$job" != "{last_before}" ] && '
        'busctl call org.noos.Scheduler1 "$job" org.noos.Scheduler1.Job Info '
        "| grep -qE '\"tokens\" u [1-9]'",
        timeout=900,
        interval=5,
        watch=ServiceWatch(machine, ["scheduler", "memory", "index"]),
    )
    measure("shell: a question to its first tokens, streamed (s)", time.monotonic() - started)
    info = job_info(machine, machine.succeed(NEWEST_JOB).strip())
    machine.type_on_console(CTRL_C)  # the rest of the answer is not waited for
    assert info["owner"] == 1000  # the user's job, not the shell's or root's
    measure("shell: the question's prompt, with its context (tokens)", info["prompt_tokens"])
    measure(
        "shell: the question's time to first token, the scheduler's own (s)",
        info["time_to_first_token_s"],
    )


def test_a_proposed_command_waits_for_confirmation(machine: Machine) -> None:
    fresh_shell(machine)
    since = machine.console_position()
    machine.type_on_console("how do I list the files here" + ENTER)
    machine.wait_for_screen_text("eXecute", 900, since)
    since = machine.console_position()
    machine.type_on_console("a")  # Abort: nothing runs
    machine.wait_for_screen_text("nothing ran", 300, since)


def test_the_plain_login_shell_is_one_keystroke_away(machine: Machine) -> None:
    fresh_shell(machine)
    since = machine.console_position()
    machine.type_on_console(CTRL_Q)
    machine.wait_for_console_text(r"user@noos:~\$", 300, since)
