"""The initrd's listing (noos_image.initrd): mkosi's joined archives read as
the kernel reads them, and the kernel modules among their paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from noos_image import initrd
from noos_image.__main__ import main

KVER = "usr/lib/modules/6.1.0-57-amd64"
DEFAULT_PART = ["usr/bin/systemctl", "usr/lib/systemd/systemd"]
MODULES_PART = [
    f"{KVER}/kernel/drivers/usb/storage/usb-storage.ko",
    f"{KVER}/kernel/fs/ext4/ext4.ko",
    f"{KVER}/modules.dep",
]


def cpio(root: Path, paths: list[str]) -> bytes:
    """A newc archive of `paths` under `root`, made as mkosi makes them."""
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(path.encode() * 3)
    return subprocess.run(
        ["cpio", "--create", "--reproducible", "--null", "--format=newc", "--quiet"],
        input=b"\0".join(p.encode() for p in paths),
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout


def zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def joined(*parts: bytes) -> bytes:
    """mkosi's join_initrds: each part padded with NULs to 4-byte alignment."""
    return b"".join(part + b"\0" * (-len(part) % 4) for part in parts)


def test_both_compressed_parts_are_listed_in_order(tmp_path: Path) -> None:
    default = zstd(cpio(tmp_path / "default", DEFAULT_PART))
    assert len(default) % 4, "the padding between the parts is exercised"
    path = tmp_path / "noos.initrd"
    path.write_bytes(joined(default, zstd(cpio(tmp_path / "modules", MODULES_PART))))
    assert initrd.paths(path) == DEFAULT_PART + MODULES_PART


def test_an_uncompressed_archive_after_a_compressed_one_is_read(tmp_path: Path) -> None:
    path = tmp_path / "noos.initrd"
    path.write_bytes(
        joined(zstd(cpio(tmp_path / "default", DEFAULT_PART)), cpio(tmp_path / "m", MODULES_PART))
    )
    assert initrd.paths(path) == DEFAULT_PART + MODULES_PART


def test_kernel_modules_are_named_as_the_kernel_names_them() -> None:
    assert initrd.kernel_modules(DEFAULT_PART + MODULES_PART) == {
        "usb_storage": "drivers/usb/storage/usb-storage.ko",
        "ext4": "fs/ext4/ext4.ko",
    }


def test_what_is_not_an_initrd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "noos.initrd"
    path.write_bytes(b"MZ\x90\x00 a PE file")
    with pytest.raises(initrd.InitrdError, match="neither zstd nor a newc cpio at offset 0"):
        initrd.paths(path)


def test_the_cli_lists_the_modules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "noos.initrd"
    path.write_bytes(zstd(cpio(tmp_path / "modules", MODULES_PART)))
    assert main(["initrd", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "ext4 fs/ext4/ext4.ko",
        "usb_storage drivers/usb/storage/usb-storage.ko",
    ]
    path.write_bytes(b"garbage")
    assert main(["initrd", str(path)]) == 1
    assert "neither zstd nor a newc cpio" in capsys.readouterr().err
