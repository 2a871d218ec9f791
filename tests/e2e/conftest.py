"""Fixtures that boot the noos image under QEMU (see qemu/noos_qemu/machine.py).

One machine boots through UEFI firmware (OVMF -> systemd-boot -> UKI), as bare
metal does, and serves the whole session: under TCG every boot costs a minute.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos_qemu import BootImage, Machine

REPO = Path(__file__).resolve().parents[2]
LOG_ROOT = REPO / "build" / "test-logs"
MEASUREMENTS: dict[str, float] = {}


@pytest.fixture(scope="session")
def boot_image() -> BootImage:
    return BootImage.from_output(Path(os.environ.get("NOOS_IMAGE_DIR", REPO / "build/image")))


@pytest.fixture(scope="session")
def machine(boot_image: BootImage) -> Iterator[Machine]:
    with Machine(boot_image, "uefi", log_dir=LOG_ROOT / "uefi") as vm:
        # The test shell starts early in boot: each test may assume a booted system.
        vm.wait_for_unit("multi-user.target")
        MEASUREMENTS["uefi: QEMU start to multi-user.target (s)"] = time.monotonic() - vm.started_at
        yield vm


def measure(name: str, value: float) -> None:
    MEASUREMENTS[name] = value


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MEASUREMENTS:
        return
    terminalreporter.section("noos e2e measurements")
    for name, value in MEASUREMENTS.items():
        terminalreporter.write_line(f"{name}: {value:.1f}")
    LOG_ROOT.mkdir(parents=True, exist_ok=True)
    (LOG_ROOT / "measurements.json").write_text(json.dumps(MEASUREMENTS, indent=2) + "\n")
