"""The gpu profile on this machine (no GPU, no VFIO): its test mode puts an
emulated PCI display adapter where the passed-through GPU would be, and the
guest's scheduler finds it with pyudev, says why it cannot compute on it, and
still serves on the CPU. Real passthrough runs the same checks on a host that
qualifies (`make run PROFILE=gpu GPU=...`); here its checklist exits 77."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from noos_qemu import BootImage, Machine

from .conftest import LOG_ROOT, REPO, measure

pytestmark = pytest.mark.e2e

SKIPPED = 77
ACCELERATORS = (
    "busctl --timeout=900 --json=short get-property org.noos.Scheduler1 /org/noos/Scheduler1 "
    "org.noos.Scheduler1 Accelerators"
)


def test_in_test_mode_the_scheduler_finds_the_emulated_adapter_and_serves_on_the_cpu(
    boot_image: BootImage,
) -> None:
    with Machine(boot_image, "gpu", cpus=2, memory="4G", log_dir=LOG_ROOT / "gpu") as vm:
        vm.wait_for_unit("multi-user.target")
        measure(
            "gpu test mode: QEMU start to multi-user.target (s)", time.monotonic() - vm.started_at
        )
        # The service is activated by the first call (or by the user's noos-shell).
        shown = vm.wait_until_succeeds(f"{ACCELERATORS} | grep 0x1234", timeout=900)
        journal = vm.succeed("journalctl --no-pager -t noosd-scheduler -o cat")
        found = json.loads(shown)["data"]
        emulated = [d for _, d in found if d["vendor_id"]["data"] == "0x1234"]
        assert len(emulated) == 1, (found, journal)
        [details] = emulated
        assert details["device_id"]["data"] == "0x1111", details
        assert details["class"]["data"].startswith("0x03"), details
        assert details["usable"]["data"] is False, details
        assert "emulated" in details["why"]["data"], details
        assert "0x1234:0x1111" in journal, journal
        answer = vm.succeed(
            "runuser -u user -- noos llm ask --max-tokens 4 --temperature 0 'Say hi.'", timeout=900
        )
        assert answer.strip()


def test_real_passthrough_skips_with_77_on_a_host_that_does_not_qualify() -> None:
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "noos_qemu",
            "run",
            "--profile",
            "gpu",
            "--gpu",
            "0000:01:00.0",
            "--print",
        ],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "qemu"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == SKIPPED, checked.stderr
    assert "[missing]" in checked.stderr
    assert checked.stdout == ""
