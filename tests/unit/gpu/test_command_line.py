"""The QEMU command lines of the GPU profile: passthrough, and test mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from noos_qemu.gpu.devices import Passthrough
from noos_qemu.gpu.pci import PciFunction
from noos_qemu.image import BootImage
from noos_qemu.launcher import Launch
from noos_qemu.profiles import OVMF_CODE, PROFILES


def function(bdf: str, class_code: int = 0x030000) -> PciFunction:
    return PciFunction(bdf, 0x10DE, 0x2204, class_code, "vfio-pci")


GPU_WITH_AUDIO = (function("0000:01:00.0"), function("0000:01:00.1", 0x040300))


@pytest.fixture
def image(tmp_path: Path) -> BootImage:
    out = tmp_path / "image"
    out.mkdir()
    for name in ("noos.raw", "noos.vmlinuz", "noos.initrd", "noos.efi"):
        (out / name).write_bytes(b"\0" * 512)
    return BootImage.from_output(out)


def value_after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_a_gpu_and_its_audio_function_share_one_root_port_as_on_the_host() -> None:
    assert Passthrough(GPU_WITH_AUDIO).qemu_args() == [
        "-device",
        "pcie-root-port,id=gpu-port1,chassis=1,slot=1",
        "-device",
        "vfio-pci,host=0000:01:00.0,bus=gpu-port1,addr=00.0,multifunction=on",
        "-device",
        "vfio-pci,host=0000:01:00.1,bus=gpu-port1,addr=00.1",
    ]


def test_each_host_slot_of_the_group_gets_a_root_port_of_its_own() -> None:
    group = (function("0000:02:00.0", 0x0C0330), *GPU_WITH_AUDIO)
    devices = value_after(Passthrough(group).qemu_args(), "-device")
    assert devices == [
        "pcie-root-port,id=gpu-port1,chassis=1,slot=1",
        # A lone function needs no multifunction bit.
        "vfio-pci,host=0000:02:00.0,bus=gpu-port1,addr=00.0",
        "pcie-root-port,id=gpu-port2,chassis=2,slot=2",
        "vfio-pci,host=0000:01:00.0,bus=gpu-port2,addr=00.0,multifunction=on",
        "vfio-pci,host=0000:01:00.1,bus=gpu-port2,addr=00.1",
    ]


def test_hugepages_back_the_guest_memory_when_the_pool_holds_it() -> None:
    argv = Passthrough(GPU_WITH_AUDIO, hugepages=True).qemu_args()
    assert argv[:3] == ["-mem-path", "/dev/hugepages", "-mem-prealloc"]
    assert "-mem-path" not in Passthrough(GPU_WITH_AUDIO).qemu_args()


def test_passthrough_boots_q35_uefi_under_kvm_with_the_host_cpu(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # VFIO needs KVM: a forced TCG (or a failed probe) cannot make a passthrough run TCG.
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    launch = Launch(image, PROFILES["gpu"], passthrough=Passthrough(GPU_WITH_AUDIO))
    argv = launch.command(tmp_path)
    assert value_after(argv, "-machine") == ["q35"]
    assert value_after(argv, "-accel") == ["kvm"]
    assert value_after(argv, "-cpu") == ["host"]
    assert value_after(argv, "-m") == ["8G"]
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}" in value_after(
        argv, "-drive"
    )
    devices = value_after(argv, "-device")
    assert "vfio-pci,host=0000:01:00.0,bus=gpu-port1,addr=00.0,multifunction=on" in devices
    assert "vfio-pci,host=0000:01:00.1,bus=gpu-port1,addr=00.1" in devices
    assert not any(device.startswith("VGA") for device in devices)


def test_test_mode_puts_an_emulated_display_where_the_gpu_would_be(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = Launch(image, PROFILES["gpu"]).command(tmp_path)
    assert value_after(argv, "-machine") == ["q35"]
    assert value_after(argv, "-accel") == ["tcg,thread=multi"]
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}" in value_after(
        argv, "-drive"
    )
    devices = value_after(argv, "-device")
    assert "pcie-root-port,id=gpu-port1,chassis=1,slot=1" in devices
    assert "VGA,bus=gpu-port1,addr=00.0" in devices
    assert not any("vfio-pci" in device for device in devices)


@pytest.mark.parametrize("profile", ["uefi", "direct"])
def test_the_other_profiles_get_no_gpu(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    monkeypatch.setattr(BootImage, "kernel_command_line", lambda self: "console=ttyS0")
    argv = Launch(image, PROFILES[profile]).command(tmp_path)
    assert not any("gpu-port" in arg or arg.startswith("VGA") for arg in argv)
