"""`make usb DEVICE=/dev/sdX`: the default image written to a whole disk, after
checks that refuse, saying why and writing nothing, a DEVICE that is unset,
not a block device, a partition, mounted (itself or any of its partitions,
or used as swap), the disk that holds this machine's /, /usr or /boot, or
smaller than the image (docs/image.md#install-on-bare-metal).

Every answer comes from the kernel (/sys/dev/block, /proc/self/mountinfo,
/proc/swaps), not from names: /dev/disk/by-id links and /dev/sda alike are
resolved to their major:minor numbers.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

SYS_BLOCK = Path("/sys/dev/block")
# The host's own disks: whatever holds these is never written.
HOST_MOUNTS = ("/", "/usr", "/boot", "/boot/efi")
BLOCK_SIZE = "4M"


class Refused(Exception):
    """DEVICE may not be written; the message says why."""


def device_number(path: Path) -> int:
    """The block device's number (st_rdev) of `path`, or Refused."""
    try:
        info = path.stat()
    except OSError as error:
        raise Refused(f"{path}: {error.strerror}") from None
    if not stat.S_ISBLK(info.st_mode):
        raise Refused(f"{path} is not a block device (a disk, e.g. /dev/sdb)")
    return info.st_rdev


def sys_entry(number: int) -> Path:
    """The device's directory in sysfs (/sys/devices/.../sdb or .../sdb/sdb1)."""
    return (SYS_BLOCK / f"{os.major(number)}:{os.minor(number)}").resolve()


def read_number(dev_file: Path) -> int:
    major, minor = dev_file.read_text().strip().split(":")
    return os.makedev(int(major), int(minor))


def disk_and_parts(number: int) -> set[int]:
    """The disk's number and each of its partitions'."""
    entry = sys_entry(number)
    found = {number}
    for child in entry.iterdir():
        if (child / "partition").exists():
            found.add(read_number(child / "dev"))
    return found


def underlying_disks(number: int) -> set[int]:
    """The whole disks a device lives on: a partition's disk, and through
    device-mapper or md (LVM, dm-crypt, RAID) the disks beneath them."""
    entry = sys_entry(number)
    if (entry / "partition").exists():
        return {read_number(entry.parent / "dev")}
    slaves = entry / "slaves"
    below = sorted(slaves.iterdir()) if slaves.is_dir() else []
    if not below:
        return {number}
    disks: set[int] = set()
    for slave in below:
        disks |= underlying_disks(read_number(slave / "dev"))
    return disks


def holders(numbers: set[int]) -> set[int]:
    """The devices built on any of `numbers`, transitively (dm-crypt, LVM on a partition)."""
    found: set[int] = set()
    for number in numbers:
        held = sys_entry(number) / "holders"
        for holder in sorted(held.iterdir()) if held.is_dir() else []:
            above = read_number(holder / "dev")
            found |= {above} | holders({above})
    return found


def mounted_numbers() -> dict[int, str]:
    """Each mounted block device's number and where it is mounted."""
    mounted: dict[int, str] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        major, minor = fields[2].split(":")
        mounted.setdefault(os.makedev(int(major), int(minor)), fields[4])
    return mounted


def swap_numbers() -> set[int]:
    found = set()
    for line in Path("/proc/swaps").read_text().splitlines()[1:]:
        path = Path(line.split()[0])
        if path.exists() and stat.S_ISBLK(path.stat().st_mode):
            found.add(path.stat().st_rdev)
    return found


def host_disks() -> dict[int, str]:
    """The disks holding this machine's /, /usr and /boot, with the mount point."""
    disks: dict[int, str] = {}
    for mount in HOST_MOUNTS:
        try:
            number = Path(mount).stat().st_dev
        except FileNotFoundError:
            continue
        if not (SYS_BLOCK / f"{os.major(number)}:{os.minor(number)}").exists():
            continue  # not on a block device (overlay, tmpfs, a network file system)
        for disk in underlying_disks(number):
            disks.setdefault(disk, mount)
    return disks


def size_bytes(number: int) -> int:
    return int((sys_entry(number) / "size").read_text()) * 512


def check_device(device: str | None) -> Path:
    """The disk `device` names, if it may be overwritten, or Refused with why."""
    if not device:
        raise Refused(
            "DEVICE is unset: name the whole disk to overwrite, e.g. `make usb DEVICE=/dev/sdb` "
            "(lsblk lists the disks)"
        )
    path = Path(device)
    number = device_number(path)
    if (sys_entry(number) / "partition").exists():
        raise Refused(f"{path} is a partition: name the whole disk it is on")
    host = host_disks()
    if number in host:
        raise Refused(f"{path} holds this machine's {host[number]}: it is the host's own disk")
    ours = disk_and_parts(number)
    ours |= holders(ours)
    mounted = mounted_numbers()
    swaps = swap_numbers()
    in_use = sorted(mounted[n] for n in ours if n in mounted) + ["swap" for n in ours & swaps]
    if in_use:
        raise Refused(
            f"{path} is in use ({', '.join(in_use)}): unmount it (and its partitions) first"
        )
    return path


def check(device: str | None, image: Path) -> Path:
    """The disk to write `image` to, or Refused with why."""
    path = check_device(device)
    if not image.is_file():
        raise Refused(f"no image at {image}: `make image` builds it")
    room = size_bytes(device_number(path))
    if room < image.stat().st_size:
        raise Refused(
            f"{path} is smaller ({room} bytes) than the image ({image.stat().st_size} bytes)"
        )
    return path


def write(image: Path, device: Path) -> None:
    """The image onto the device, block for block, flushed before it returns."""
    subprocess.run(
        [
            "dd",
            f"if={image}",
            f"of={device}",
            f"bs={BLOCK_SIZE}",
            "conv=fsync",
            "oflag=direct",
            "status=progress",
        ],
        check=True,
    )
