"""`make usb`'s checks (noos_image.usb): each DEVICE it must refuse is refused
with why and left unwritten, on real block devices (loop devices over files)
and the host's own root disk; a free disk gets the image byte for byte."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos_image import usb
from noos_image.__main__ import main

MIB = 1 << 20
MARK = b"not yet overwritten"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices need root")


@contextlib.contextmanager
def loop_device(backing: Path, *, partitioned: bool = False) -> Iterator[Path]:
    """A loop device over `backing`, with a GPT and one partition if asked; detached after."""
    if partitioned:
        subprocess.run(
            ["sfdisk", "--quiet", str(backing)],
            input="label: gpt\nname=data\n",
            text=True,
            check=True,
        )
    found = subprocess.run(
        ["losetup", "--find", "--show", str(backing)],
        capture_output=True,
        text=True,
        check=True,
    )
    device = Path(found.stdout.strip())
    try:
        if partitioned:
            # partx, not losetup --partscan: the latter's scan is not there yet when it returns.
            subprocess.run(["partx", "--add", str(device)], check=True)
        yield device
    finally:
        if partitioned:
            subprocess.run(["partx", "--delete", str(device)], check=False)
        subprocess.run(["losetup", "--detach", str(device)], check=True)


def backing_file(directory: Path, size: int) -> Path:
    path = directory / "disk.img"
    with path.open("wb") as file:
        file.write(MARK)
        file.truncate(size)
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "noos.raw"
    path.write_bytes(os.urandom(2 * MIB))
    return path


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with loop_device(backing_file(tmp_path, 8 * MIB)) as device:
        yield device


@pytest.fixture
def partitioned_disk(tmp_path: Path) -> Iterator[Path]:
    with loop_device(backing_file(tmp_path, 8 * MIB), partitioned=True) as device:
        yield device


def first_partition(device: Path, directory: Path) -> Path:
    """A node for the disk's first partition, made in `directory` from sysfs:
    a host without udev (a container) makes no /dev/loopNp1."""
    sys_dev = Path(f"/sys/class/block/{device.name}/{device.name}p1/dev")
    assert sys_dev.exists(), f"the kernel did not scan {device}'s GPT"
    major, minor = sys_dev.read_text().split(":")
    node = directory / f"{device.name}p1"
    os.mknod(node, 0o600 | stat.S_IFBLK, os.makedev(int(major), int(minor)))
    return node


def refused(device: str | None, image: Path) -> str:
    """What main() says when it refuses `device`; it must also write nothing."""
    with pytest.raises(usb.Refused) as raised:
        usb.check(device, image)
    assert main(["usb", device or "", str(image)]) == 2
    return str(raised.value)


def unwritten(device: Path) -> bool:
    with device.open("rb") as file:
        return file.read(len(MARK)) == MARK


@pytest.mark.parametrize("device", [None, ""])
def test_an_unset_device_is_refused(device: str | None, image: Path) -> None:
    assert "DEVICE is unset" in refused(device, image)
    assert main(["usb-check", ""]) == 2


def test_a_regular_file_is_refused_and_left_as_it_was(tmp_path: Path, image: Path) -> None:
    file = backing_file(tmp_path, MIB)
    assert "is not a block device" in refused(str(file), image)
    assert file.read_bytes().startswith(MARK)
    assert "No such file" in refused(str(tmp_path / "absent"), image)


def test_a_partition_is_refused(partitioned_disk: Path, image: Path, tmp_path: Path) -> None:
    assert "is a partition" in refused(str(first_partition(partitioned_disk, tmp_path)), image)


def test_a_disk_whose_partition_is_mounted_is_refused(
    partitioned_disk: Path, image: Path, tmp_path: Path
) -> None:
    partition = first_partition(partitioned_disk, tmp_path)
    subprocess.run(["mkfs.ext4", "-q", str(partition)], check=True)
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    subprocess.run(["mount", str(partition), str(mountpoint)], check=True)
    try:
        why = refused(str(partitioned_disk), image)
        assert "is in use" in why and str(mountpoint) in why
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
    # Unmounted, the same disk may be written.
    assert usb.check(str(partitioned_disk), image) == partitioned_disk


def test_a_mounted_disk_is_refused_and_left_as_it_was(tmp_path: Path, image: Path) -> None:
    backing = tmp_path / "whole.img"
    subprocess.run(["mkfs.ext4", "-q", str(backing), "8M"], check=True)
    with loop_device(backing) as device:
        mountpoint = tmp_path / "mnt"
        mountpoint.mkdir()
        subprocess.run(["mount", str(device), str(mountpoint)], check=True)
        try:
            assert "is in use" in refused(str(device), image)
        finally:
            subprocess.run(["umount", str(mountpoint)], check=True)
        # The file system's own writes (its superblock at umount) aside, no image there.
        assert backing.read_bytes()[:MIB] != image.read_bytes()[:MIB]


def test_the_hosts_root_disk_is_refused(image: Path) -> None:
    source = subprocess.run(
        ["findmnt", "--noheadings", "--output", "SOURCE", "--target", "/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not source.startswith("/dev/"):
        pytest.skip(f"this host's / is not on a disk ({source})")
    parent = subprocess.run(
        ["lsblk", "--nodeps", "--noheadings", "--output", "PKNAME", source],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root_disk = f"/dev/{parent}" if parent else source
    assert "holds this machine's /" in refused(root_disk, image)


def test_a_disk_smaller_than_the_image_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "noos.raw"
    big.write_bytes(bytes(16 * MIB))
    with loop_device(backing_file(tmp_path, 8 * MIB)) as device:
        assert "is smaller" in refused(str(device), big)
        assert unwritten(device)


def test_a_missing_image_is_refused(disk: Path, tmp_path: Path) -> None:
    assert "no image at" in refused(str(disk), tmp_path / "noos.raw")
    assert unwritten(disk)


def test_a_free_disk_gets_the_image_byte_for_byte(disk: Path, image: Path) -> None:
    assert main(["usb-check", str(disk)]) == 0
    assert unwritten(disk)
    assert main(["usb", str(disk), str(image)]) == 0
    with disk.open("rb") as file:
        assert file.read(image.stat().st_size) == image.read_bytes()
