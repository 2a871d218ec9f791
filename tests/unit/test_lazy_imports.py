"""The services' front doors import no numerical library: a service owns its
bus name before numpy, chromadb or torch load (D-Bus activation's timeout,
under emulation), and `noosd NAME --help` stays quick."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "chromadb", "torch", "onnxruntime", "llama_cpp")


@pytest.mark.parametrize(
    "module",
    [
        "noosd.memory.interface",
        "noosd.memory.service",
        "noosd.index.service",
        "noosd.scheduler.service",
        "noosd.system.service",
        "noosd.cli",
    ],
)
def test_importing_a_front_door_imports_no_numerical_library(module: str) -> None:
    # A fresh interpreter: this one has imported everything already.
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {module}; print(*[m for m in {HEAVY!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert imported.stdout.split() == []
