"""`python -m noos_qemu run --profile gpu ...`: its options, and its exit codes."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from noos_qemu.__main__ import main, parse_arguments
from noos_qemu.gpu.check import SKIP_EXIT_CODE
from tests.unit.gpu.conftest import recorded


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    out = tmp_path / "image"
    out.mkdir()
    for name in ("noos.raw", "noos.vmlinuz", "noos.initrd", "noos.efi"):
        (out / name).write_bytes(b"\0" * 512)
    return out


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--profile", "gpu"], "the gpu profile needs either --gpu BDF or --test-mode"),
        (
            ["--profile", "gpu", "--gpu", "01:00.0", "--test-mode"],
            "the gpu profile needs either --gpu BDF or --test-mode",
        ),
        (["--profile", "gpu", "--test-mode", "--bind"], "--bind needs --gpu"),
        (["--gpu", "0000:01:00.0"], "--gpu, --bind and --test-mode belong to --profile gpu"),
        (["--profile", "direct", "--test-mode"], "belong to --profile gpu"),
        (["--profile", "gpu", "--gpu", "01:00"], "not a PCI address: '01:00'"),
        (["--profile", "gpu", "--test-mode", "--memory", "lots"], "not a memory size: 'lots'"),
    ],
)
def test_inconsistent_gpu_options_are_refused(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_arguments(["run", *argv])
    assert exit_info.value.code == 2
    assert error in capsys.readouterr().err


def test_the_gpu_options_are_parsed() -> None:
    args = parse_arguments(["run", "--profile", "gpu", "--gpu", "01:00.0", "--bind"])
    assert (args.profile, args.gpu, args.bind, args.test_mode) == (
        "gpu",
        "0000:01:00.0",
        True,
        False,
    )


def test_test_mode_prints_a_command_with_the_emulated_display(
    image_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = ["run", "--image-dir", str(image_dir), "--profile", "gpu", "--test-mode", "--print"]
    assert main(argv) == 0
    command = shlex.split(capsys.readouterr().out)
    assert "VGA,bus=gpu-port1,addr=00.0" in command
    assert command[command.index("-machine") + 1] == "q35"


def test_a_host_without_an_iommu_exits_77_before_qemu(
    image_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "kvm")
    argv = ["run", "--image-dir", str(image_dir), "--profile", "gpu", "--gpu", "0000:01:00.0"]
    assert main(argv, host=recorded("no-iommu")) == SKIP_EXIT_CODE
    out, err = capsys.readouterr()
    assert out == ""
    assert "[missing] IOMMU enabled: IOMMU is off" in err
    assert err.rstrip().endswith("nothing was started (exit 77: skipped)")


def test_a_ready_host_prints_the_passthrough_command(
    image_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The accel probe's verdict, as accel.py would cache it for a host where KVM works.
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "kvm")
    argv = ["run", "--image-dir", str(image_dir), "--profile", "gpu", "--gpu", "01:00.0"]
    assert main([*argv, "--memory", "4G", "--print"], host=recorded("gpu-with-audio-vfio")) == 0
    out, err = capsys.readouterr()
    command = shlex.split(out)
    assert command[command.index("-accel") + 1] == "kvm"
    assert command[command.index("-m") + 1] == "4G"
    assert "vfio-pci,host=0000:01:00.0,bus=gpu-port1,addr=00.0,multifunction=on" in command
    assert "-mem-path" in command
    assert "[ok] guest memory 4.0 GiB (from the hugepage pool)" in err


def test_a_forced_tcg_makes_the_kvm_check_fail(
    image_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = ["run", "--image-dir", str(image_dir), "--profile", "gpu", "--gpu", "01:00.0"]
    assert main([*argv, "--print"], host=recorded("gpu-with-audio-vfio")) == SKIP_EXIT_CODE
    assert "[missing] KVM usable: /dev/kvm opens, but" in capsys.readouterr().err
