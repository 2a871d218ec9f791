"""The test driver itself, against real guests: failures must be fast and loud."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from noos_qemu import BootImage, Machine, MachineError

from .conftest import LOG_ROOT

pytestmark = pytest.mark.e2e


def test_a_kernel_panic_fails_at_once_with_the_console(
    boot_image: BootImage, tmp_path: Path
) -> None:
    # Without its initrd the kernel cannot load the virtio disk driver, so it
    # panics at "VFS: Unable to mount root fs". The driver must say so as soon
    # as the console shows it, not wait out its 15-minute boot timeout.
    empty_initrd = tmp_path / "empty.initrd"
    empty_initrd.write_bytes(bytes(512))
    broken = dataclasses.replace(boot_image, initrd=empty_initrd)
    with (
        pytest.raises(MachineError, match="the guest kernel panicked") as raised,
        Machine(broken, "direct", log_dir=LOG_ROOT / "panic") as machine,
    ):
        machine.wait_for_shell()
    assert "Unable to mount root fs" in str(raised.value)


def test_failures_carry_the_output_and_the_guest_journal(machine: Machine) -> None:
    with pytest.raises(MachineError) as raised:
        machine.succeed("echo to-stdout; echo to-stderr >&2; exit 3")
    report = str(raised.value)
    assert "failed with status 3" in report
    assert "to-stdout" in report
    assert "to-stderr" in report
    assert "guest journal (tail)" in report
    assert "systemd" in report.split("guest journal (tail)")[1]
    assert machine.fail("false") == ""
    assert machine.succeed("printf 'a\\nb'") == "a\nb"
