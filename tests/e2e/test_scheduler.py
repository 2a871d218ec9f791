"""org.noos.Scheduler1 in the booted image: `noos llm ask` as a user, busctl
submitting and reading a job, the hardened unit and the shipped catalog."""

from __future__ import annotations

import json
import re
import time

import pytest

from noos_qemu import Machine

from .conftest import measure

pytestmark = pytest.mark.e2e

# Under TCG the first job waits for the model to load; generation runs ~20x slower.
BUSCTL = "busctl --timeout=900 --json=short call org.noos.Scheduler1"
SCHEDULER = f"{BUSCTL} /org/noos/Scheduler1 org.noos.Scheduler1"


def as_user(command: str) -> str:
    return f"runuser -u user -- {command}"


def test_a_user_asks_with_the_noos_cli_and_gets_a_streamed_answer(machine: Machine) -> None:
    started = time.monotonic()
    answer = machine.succeed(
        as_user("noos llm ask --max-tokens 8 --temperature 0 'What colour is the sky?'"),
        timeout=900,
    )
    measure(
        "scheduler: first `noos llm ask`, incl. loading SmolLM2 (s)", time.monotonic() - started
    )
    assert answer.strip()
    jobs = machine.succeed(as_user("noos llm jobs --json"))
    assert json.loads(jobs)[0]["state"] == "done"


def test_busctl_submits_a_job_and_reads_it(machine: Machine) -> None:
    submitted = json.loads(
        machine.succeed(
            as_user(
                f"{SCHEDULER} Submit 'a{{sv}}' 3 "
                "messages 'a(ss)' 1 user 'Say hello.' max_tokens i 6 temperature d 0"
            ),
            timeout=900,
        )
    )
    job = submitted["data"][0]
    assert re.fullmatch(r"/org/noos/Scheduler1/jobs/\d+", job)
    started = time.monotonic()
    info = json.loads(
        machine.succeed(as_user(f"{BUSCTL} {job} org.noos.Scheduler1.Job Wait"), timeout=900)
    )["data"][0]
    measure("scheduler: a 6-token job over busctl, model resident (s)", time.monotonic() - started)
    assert info["state"]["data"] == "done"
    assert info["text"]["data"]
    assert info["owner"]["data"] == 1000
    # Root may read it; another user is told it does not exist, as for a job
    # that never did (nobody has no session: use root's view).
    assert "done" in machine.succeed(f"{BUSCTL} {job} org.noos.Scheduler1.Job Info")
    denied = machine.fail(f"runuser -u nobody -- {BUSCTL} {job} org.noos.Scheduler1.Job Info")
    assert "there is no such job" in denied


def test_the_image_declares_its_models_and_a_user_may_not_load_them(machine: Machine) -> None:
    models = json.loads(
        machine.succeed(
            "busctl --json=short get-property org.noos.Scheduler1 /org/noos/Scheduler1 "
            "org.noos.Scheduler1 Models",
            timeout=300,
        )
    )["data"]
    names = {name for name, _ in models}
    assert names == {"smollm2-135m-instruct", "gemma3-270m"}
    denied = machine.fail(as_user(f"{SCHEDULER} Load s gemma3-270m"))
    # busctl offers to answer a password prompt; with no agent, polkit refuses.
    assert "may not org.noos.scheduler.manage-models" in denied


def test_the_scheduler_unit_is_hardened_with_its_own_state(machine: Machine) -> None:
    shown = machine.succeed(
        "systemctl show noosd@scheduler.service -p User -p StateDirectory -p ProtectSystem"
    )
    assert "User=noos-scheduler" in shown
    assert "noos/kv" in shown
    assert machine.succeed("stat -c '%U %a' /var/lib/noos/kv").strip() == "noos-scheduler 700"
    report = machine.succeed("systemd-analyze security --no-pager noosd@scheduler.service")
    exposure = float(re.findall(r"Overall exposure level for \S+: ([0-9.]+)", report)[0])
    measure("noosd@scheduler: systemd-analyze exposure (0 safe .. 10 exposed)", exposure)
    assert exposure < 3.0, report
