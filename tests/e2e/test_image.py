"""The images' builds (`make image image-test`): the default image, what a
user installs, holds nothing of the tests; the test image, which the e2e
tests boot, differs from it by the test profile's files alone (file lists
written by mkosi.finalize, package manifests by mkosi) and its Secure Boot
signature (systemd-boot signed, its auto-enrollment files); and the booted image
says which build it is and which Debian lock it was checked against."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from noos_image import debian_lock, files, initrd
from noos_qemu import BootImage, Machine

from .conftest import REPO

pytestmark = pytest.mark.e2e

DEFAULT_IMAGE_DIR = REPO / "build/image"
# The test profile includes the demo's (mkosi.profiles/test/mkosi.conf).
TEST_TREES = [REPO / "mkosi.profiles/test/mkosi.extra", REPO / "mkosi.profiles/demo/mkosi.extra"]
# Named, so that an emptied profile cannot pass the comparison.
TEST_FILES = (
    "/usr/lib/systemd/system/noos-test-backdoor.service",
    "/usr/lib/udev/rules.d/60-noos-test-backdoor.rules",
    "/usr/lib/noos-image/test-backdoor",
    "/etc/systemd/system/getty@tty1.service.d/autologin.conf",
    "/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf",
    "/etc/systemd/system/noos-firstboot.service.d/demo.conf",
)
# What mkosi's SecureBoot= adds to the root tree of the test image, which the
# Makefile signs with a throwaway pair (docs/image.md#secure-boot): the signed
# copy of systemd-boot that bootctl installs, and systemd-boot's
# auto-enrollment files (SecureBootAutoEnroll=, on by default); and what it
# changes: systemd-boot in the ESP, signed. The default image is unsigned.
SIGNING_ADDS = (
    "/usr/lib/systemd/boot/efi/systemd-bootx64.efi.signed",
    "/efi/loader/keys",
    "/efi/loader/keys/auto",
    "/efi/loader/keys/auto/PK.auth",
    "/efi/loader/keys/auto/KEK.auth",
    "/efi/loader/keys/auto/db.auth",
)
SIGNING_CHANGES = ("/efi/EFI/BOOT/BOOTX64.EFI", "/efi/EFI/systemd/systemd-bootx64.efi")
LOCK = REPO / "requirements/debian.lock"
# bootctl's random bytes, which mkosi.finalize removes (docs/image.md#reproducible-builds).
RANDOM_SEED = "/efi/loader/random-seed"
# What finds and mounts the root on bare metal and in QEMU, which the initrd
# must carry (mkosi.conf.d/11-initrd.conf; each one's dependencies come along).
INITRD_MODULES = {
    "nvme",
    "vmd",
    "ahci",
    "sd_mod",
    "usb_storage",
    "uas",
    "xhci_pci",
    "ehci_pci",
    "usbhid",
    "virtio_blk",
    "virtio_scsi",
    "virtio_pci",
    "sdhci_pci",
    "mmc_block",
    "ext4",
    "vfat",
    "crc32c_generic",
}
# Kinds of drivers the initrd no longer carries (sound, wireless and wired
# networks, graphics, cameras, Bluetooth, other file systems, device-mapper
# and RAID): the root keeps them all, for udev to load after the switch.
NOT_IN_INITRD = (
    "sound/",
    "drivers/net/",
    "net/",
    "drivers/gpu/",
    "drivers/media/",
    "drivers/bluetooth/",
    "fs/btrfs/",
    "fs/xfs/",
    "drivers/md/",
)


def artifact(directory: Path, suffix: str) -> str:
    path = directory / f"noos{suffix}"
    if not path.exists():
        pytest.fail(f"no {path}: `make image image-test` builds both images")
    return path.read_text()


def test_the_default_image_has_no_test_files_and_the_test_image_only_adds_them(
    boot_image: BootImage,
) -> None:
    test_dir = boot_image.disk.parent
    assert test_dir.resolve() != DEFAULT_IMAGE_DIR.resolve(), "the e2e tests boot the test image"
    default = files.load(artifact(DEFAULT_IMAGE_DIR, ".files"))
    test = files.load(artifact(test_dir, ".files"))
    for path in TEST_FILES:
        assert path not in default, path
        assert test[path][0] == "file", path
    assert RANDOM_SEED not in default
    for path in SIGNING_ADDS:
        assert path not in default, path
        assert path in test, path
    for path in SIGNING_CHANGES:
        assert default[path] != test[path], f"{path}: the same in the signed test image"
    signing = {*SIGNING_ADDS, *SIGNING_CHANGES}
    default = {path: entry for path, entry in default.items() if path not in signing}
    test = {path: entry for path, entry in test.items() if path not in signing}
    added = files.tree_paths(TEST_TREES)
    assert files.differences(default, test, added) == []
    default_packages = json.loads(artifact(DEFAULT_IMAGE_DIR, ".manifest"))["packages"]
    assert json.loads(artifact(test_dir, ".manifest"))["packages"] == default_packages


def test_the_initrd_carries_the_root_s_drivers_and_nothing_else() -> None:
    """The default image's initrd, as its UKI carries it (noos.initrd is the
    UKI's .initrd section): the storage and file-system drivers, and none of
    the kinds left to the root; the root still has every module."""
    listing = initrd.paths(DEFAULT_IMAGE_DIR / "noos.initrd")
    modules = initrd.kernel_modules(listing)
    assert sorted(INITRD_MODULES - modules.keys()) == []
    assert sorted(p for p in modules.values() if p.startswith(NOT_IN_INITRD)) == []
    root = files.load(artifact(DEFAULT_IMAGE_DIR, ".files"))
    in_root = {path.split("/kernel/", 1)[1] for path in root if "/kernel/" in path}
    assert set(modules.values()) <= in_root
    for kind in NOT_IN_INITRD:
        assert any(path.startswith(kind) and ".ko" in path for path in in_root), kind


def test_noos_status_says_which_build_and_debian_lock_the_image_is(
    machine: Machine, boot_image: BootImage
) -> None:
    manifest = artifact(boot_image.disk.parent, ".manifest")
    built = json.loads(manifest)["config"]["version"]
    digest = debian_lock.digest(LOCK.read_bytes())
    # A build from a moved mirror goes on (docs/image.md#the-debian-lock):
    # the run's summary says which versions this image got instead.
    moved = debian_lock.compare(
        debian_lock.from_lock(LOCK.read_text()), debian_lock.from_manifest(manifest)
    )
    if moved:
        warnings.warn(debian_lock.report(moved, LOCK), stacklevel=1)
    # Started and ready first: under TCG at a high load the service's start
    # can pass dbus-daemon's 25 s activation limit, which is not what this
    # test is about (test_spine's activation test is).
    machine.succeed("systemctl start noosd@system.service", timeout=300)
    out = machine.succeed("runuser -u user -- noos status --json", timeout=300)
    assert json.loads(out)["image"] == {"version": built, "debian_lock": digest}
    release = machine.succeed("cat /usr/lib/os-release")
    assert f'IMAGE_VERSION="{built}"' in release
    assert f'NOOS_DEBIAN_LOCK="{digest}"' in release
