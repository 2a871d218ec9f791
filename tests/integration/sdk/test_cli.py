"""The `noos` command: results as text or JSON, failures as one clean line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.fixtures.image_release import DEBIAN_LOCK, IMAGE_VERSION

NOOS = Path(sys.executable).with_name("noos")


def noos(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NOOS), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.usefixtures("noosd_system")
def test_status_as_json(bus_address: str, models_dir: Path) -> None:
    result = noos("--bus", bus_address, "status", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "version": version("noosd"),
        "uid": os.geteuid(),
        "image": {"version": IMAGE_VERSION, "debian_lock": DEBIAN_LOCK},
        "models": [
            {
                "name": "tiny-chat",
                "kind": "chat",
                "path": str(models_dir / "tiny-chat" / "tiny.gguf"),
            },
            {
                "name": "tiny-embedding",
                "kind": "embedding",
                "path": str(models_dir / "tiny-embedding"),
            },
        ],
    }


@pytest.mark.usefixtures("noosd_system")
def test_json_may_come_before_the_command(bus_address: str) -> None:
    result = noos("--bus", bus_address, "--json", "ping")
    assert (result.returncode, json.loads(result.stdout)) == (0, "pong")


@pytest.mark.usefixtures("noosd_system")
def test_status_as_text(bus_address: str) -> None:
    result = noos("--bus", bus_address, "status")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"version:  {version('noosd')}"
    assert lines[1] == f"uid:      {os.geteuid()}"
    assert lines[2] == f"image:    {IMAGE_VERSION}, Debian lock {DEBIAN_LOCK}"
    assert lines[4].split()[:2] == ["tiny-chat", "chat"]


@pytest.mark.usefixtures("noosd_system")
def test_ping_with_the_bus_from_the_environment(bus_address: str) -> None:
    result = noos("ping", env={"NOOS_BUS_ADDRESS": bus_address})
    assert (result.returncode, result.stdout) == (0, "pong\n")


def test_an_unreachable_bus_is_one_clean_line() -> None:
    result = noos("--bus", "unix:path=/nonexistent", "status")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "noos: cannot connect to the bus at unix:path=/nonexistent: No such file or directory\n"
    )


def test_a_service_that_is_not_running_is_one_clean_line(bus_address: str) -> None:
    result = noos("--bus", bus_address, "ping")

    assert result.returncode == 1
    assert result.stderr.startswith("noos: ")
    assert "org.noos.System1" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_command_is_required() -> None:
    result = noos()
    assert result.returncode == 2
    assert "required" in result.stderr
