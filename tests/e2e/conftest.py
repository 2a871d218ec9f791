"""Fixtures that boot the noos image under QEMU (see qemu/noos_qemu/machine.py).

One machine boots through UEFI firmware (OVMF -> systemd-boot -> UKI), as bare
metal does, and serves the whole session: under TCG every boot costs a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
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


# The second disk: a removable medium with one file, mounted by the tests.
MEDIUM_LABEL = "NOOSMEDIUM"
MEDIUM_FILE = "trip/packing.md"
MEDIUM_TEXT = "# Packing list\n\nFor the Lisbon trip: passport, sunscreen, the travel adapter.\n"


@pytest.fixture(scope="session")
def medium_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 MiB ext4 image labelled MEDIUM_LABEL holding MEDIUM_FILE."""
    root = tmp_path_factory.mktemp("medium")
    content = root / "content"
    (content / MEDIUM_FILE).parent.mkdir(parents=True)
    (content / MEDIUM_FILE).write_text(MEDIUM_TEXT)
    image = root / "medium.raw"
    subprocess.run(
        ["mkfs.ext4", "-q", "-L", MEDIUM_LABEL, "-d", str(content), str(image), "32M"],
        check=True,
    )
    return image


@pytest.fixture(scope="session")
def machine(boot_image: BootImage, medium_image: Path) -> Iterator[Machine]:
    with Machine(boot_image, "uefi", log_dir=LOG_ROOT / "uefi", disks=[medium_image]) as vm:
        # The test shell starts early in boot: each test may assume a booted system.
        vm.wait_for_unit("multi-user.target")
        MEASUREMENTS["uefi: QEMU start to multi-user.target (s)"] = time.monotonic() - vm.started_at
        # Measured here, before any test loads the guest (test_spine checks the state).
        vm.execute("systemctl is-system-running --wait", timeout=900)
        MEASUREMENTS["uefi: QEMU start to is-system-running (s)"] = time.monotonic() - vm.started_at
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
