"""The QEMU command lines the launcher builds for each boot profile."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from noos_qemu.image import BootImage
from noos_qemu.launcher import Launch
from noos_qemu.profiles import OVMF_CODE, PROFILES

CMDLINE = "console=ttyS0,115200n8 rw root=PARTLABEL=noos-root systemd.firstboot=off"


@pytest.fixture
def image(tmp_path: Path) -> BootImage:
    """An image directory whose UKI carries a real .cmdline section."""
    out = tmp_path / "image"
    out.mkdir()
    for name in ("noos.raw", "noos.vmlinuz", "noos.initrd"):
        (out / name).write_bytes(b"\0" * 512)
    (tmp_path / "cmdline").write_text(CMDLINE + "\n")
    subprocess.run(
        [
            "objcopy",
            "--add-section",
            f".cmdline={tmp_path / 'cmdline'}",
            "/bin/true",
            str(out / "noos.efi"),
        ],
        check=True,
    )
    return BootImage.from_output(out)


def value_after(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_a_missing_image_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make image"):
        BootImage.from_output(tmp_path)


def test_direct_boot_uses_the_ukis_own_command_line(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = Launch(image, PROFILES["direct"], network=False).command(tmp_path)
    assert value_after(argv, "-kernel") == [str(image.kernel)]
    assert value_after(argv, "-initrd") == [str(image.initrd)]
    assert value_after(argv, "-append") == [CMDLINE]
    assert not any("pflash" in arg for arg in argv)
    assert value_after(argv, "-nic") == ["none"]


def test_uefi_boot_uses_ovmf_with_a_private_copy_of_its_variables(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = Launch(image, PROFILES["uefi"]).command(tmp_path)
    drives = value_after(argv, "-drive")
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}" in drives
    assert f"if=pflash,format=raw,unit=1,file={tmp_path / 'OVMF_VARS.fd'}" in drives
    assert (tmp_path / "OVMF_VARS.fd").stat().st_size > 0
    assert "-kernel" not in argv
    assert value_after(argv, "-nic") == ["user,model=virtio-net-pci"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_the_disk_is_a_throwaway_snapshot(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = Launch(image, PROFILES[profile]).command(tmp_path)
    assert f"if=none,id=root,format=raw,snapshot=on,file={image.disk}" in value_after(
        argv, "-drive"
    )


@pytest.mark.parametrize(
    ("accel", "accel_arg", "cpu"),
    [
        ("tcg", "tcg,thread=multi", "max"),
        ("kvm", "kvm", "host"),
    ],
)
def test_the_accelerator_picks_the_cpu_model(
    image: BootImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    accel: str,
    accel_arg: str,
    cpu: str,
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", accel)
    argv = Launch(image, PROFILES["direct"]).command(tmp_path)
    assert value_after(argv, "-accel") == [accel_arg]
    assert value_after(argv, "-cpu") == [cpu]
