"""Fixtures that boot the noos image under QEMU (see qemu/noos_qemu/machine.py).

One machine boots through UEFI firmware (OVMF -> systemd-boot -> UKI), as bare
metal does, and serves the whole session: under TCG every boot costs a minute.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos_qemu import BootImage, Machine

REPO = Path(__file__).resolve().parents[2]
LOG_ROOT = REPO / "build" / "test-logs"
MEASUREMENTS: dict[str, float] = {}
# Each e2e test's limit unless it names its own (pytest.mark.timeout): the
# longest wait in a green run is a question's first token (~320 s under TCG)
# plus a fresh login; a stuck service fails its test sooner (services.py).
TEST_TIMEOUT_S = 900
# The whole e2e session's limit: after it, the tests left fail at once, so a
# red run still ends inside CI's 90 minutes (`make test` sets it to what the
# earlier phases left of them).
SESSION_BUDGET_S = float(os.environ.get("NOOS_E2E_BUDGET_S", 50 * 60))
_SESSION_STARTED = time.monotonic()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--e2e-shuffle",
        metavar="SEED",
        default=None,
        help="run the e2e tests in a random order from SEED (they must not depend on order)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e = [item for item in items if item.get_closest_marker("e2e")]
    for item in e2e:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S, method="signal"))
    seed = config.getoption("--e2e-shuffle")
    if seed is not None and e2e:
        first = items.index(e2e[0])
        random.Random(seed).shuffle(e2e)
        items[first:] = e2e + [item for item in items[first:] if item not in e2e]


@pytest.fixture(autouse=True)
def _within_session_budget(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("e2e") is None:
        return
    spent = time.monotonic() - _SESSION_STARTED
    if spent > SESSION_BUDGET_S:
        pytest.fail(f"the e2e session's budget ({SESSION_BUDGET_S:.0f} s) is spent: {spent:.0f} s")


@pytest.fixture(scope="session")
def boot_image() -> BootImage:
    """The test profile's image (`make image-test`): the default image plus the
    test driver's backdoor and the demo's console autologin (mkosi.profiles/)."""
    return BootImage.from_output(Path(os.environ.get("NOOS_IMAGE_DIR", REPO / "build/image-test")))


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
