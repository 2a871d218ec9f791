"""`noos llm` against `noosd scheduler` on a private bus, running SmolLM2."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos import SyncScheduler
from tests.fixtures.noosd_process import NoosdProcess
from tests.integration.scheduler.test_scheduler_sdk import COUNTING, MODEL

NOOS = Path(sys.executable).with_name("noos")
QUICK = ("--max-tokens", "16", "--temperature", "0")
EXIT_INTERRUPTED = 130


@pytest.fixture
def llm(scheduler_with_broken_model: NoosdProcess, bus_address: str) -> Iterator[LlmCommand]:
    yield LlmCommand(bus_address)


class LlmCommand:
    """`noos --bus ADDRESS llm ...`, run to its end."""

    def __init__(self, bus_address: str) -> None:
        self.bus_address = bus_address

    def argv(self, *args: str) -> list[str]:
        return [str(NOOS), "--bus", self.bus_address, "llm", *args]

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), input=stdin, capture_output=True, text=True, timeout=60, check=False
        )


def newest_job_state(bus_address: str) -> str:
    """The state, once ended, of the job submitted last (the tests submit one at a time)."""
    with SyncScheduler(bus_address) as scheduler:
        newest = max(scheduler.jobs(), key=lambda job: job.info().submitted_at)
        return newest.wait().state


def test_ask_prints_the_answer_then_a_newline(llm: LlmCommand) -> None:
    result = llm("ask", "What is the capital of France?", "--system", "Answer in one word.", *QUICK)

    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    assert result.stdout.endswith("\n")
    assert result.stderr == ""


def test_ask_reads_the_question_from_stdin(llm: LlmCommand) -> None:
    result = llm("ask", "-", "--raw", *QUICK, stdin=COUNTING + "\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("11")


def test_ask_as_json_prints_the_job(llm: LlmCommand) -> None:
    result = llm("ask", "Name a colour.", "--model", MODEL, "--priority", "batch", *QUICK, "--json")

    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert (job["state"], job["model"], job["priority"], job["max_tokens"]) == (
        "done",
        MODEL,
        "batch",
        16,
    )
    assert job["text"] and 0 < job["tokens"] <= 16
    assert job["time_to_first_token_s"] > 0


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_the_answer_and_cancels_its_job(llm: LlmCommand) -> None:
    asking = subprocess.Popen(
        llm.argv("ask", COUNTING, "--raw", "--max-tokens", "512", "--temperature", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As from a terminal: a test run started in the background has SIGINT
        # ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=_interruptible,
    )
    assert asking.stdout is not None
    try:
        # The answer streams: its first piece comes while the job still runs.
        readable, _, _ = select.select([asking.stdout], [], [], 30)
        assert readable, "no answer within 30 s"
        assert os.read(asking.stdout.fileno(), 4096)
        asking.send_signal(signal.SIGINT)
        assert asking.wait(timeout=30) == EXIT_INTERRUPTED
    finally:
        if asking.poll() is None:
            asking.kill()
        asking.communicate()

    assert newest_job_state(llm.bus_address) == "cancelled"


def test_system_goes_with_chat_questions_only(llm: LlmCommand) -> None:
    result = llm("ask", "Once upon a time", "--raw", "--system", "Be brief.")

    assert result.returncode != 0
    assert "--system" in result.stderr


def test_an_unknown_model_is_one_clean_line(llm: LlmCommand) -> None:
    result = llm("ask", "Hi", "--model", "nope", *QUICK)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "noos: there is no model 'nope'\n"


def test_models_lists_smollm2(llm: LlmCommand) -> None:
    table = llm("models")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "BACKEND", "STATE", "CONTEXT", "RAM", "FLAGS"]
    [smollm2] = [row.split() for row in rows if row.startswith(f"{MODEL} ")]
    assert smollm2[1] == "llama-cpp"
    assert smollm2[3:7] == ["2048", "238.4", "MiB", "default"]

    listed = llm("models", "--json")
    assert listed.returncode == 0, listed.stderr
    [model] = [model for model in json.loads(listed.stdout) if model["name"] == MODEL]
    assert (model["backend"], model["context_length"], model["ram_bytes"]) == (
        "llama-cpp",
        2048,
        250_000_000,
    )
    assert (model["default"], model["pinned"]) == (True, False)


def test_jobs_lists_the_job_just_asked(llm: LlmCommand) -> None:
    asked = json.loads(llm("ask", "Hi", *QUICK, "--json").stdout)

    table = llm("jobs")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "MODEL", "STATE", "TOKENS", "TTFT", "TOK/S"]
    [row] = [row.split() for row in rows if row.split()[0] == str(asked["id"])]
    assert row[1:4] == [MODEL, "done", str(asked["tokens"])]

    listed = llm("jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert asked in json.loads(listed.stdout)


def test_root_unloads_and_loads_a_model(llm: LlmCommand) -> None:
    unloaded = llm("unload", MODEL)
    assert (unloaded.returncode, unloaded.stdout) == (0, f"unloading {MODEL}\n")

    loaded = llm("--json", "load", MODEL)  # --json after the group is the command's
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"loading": MODEL}
