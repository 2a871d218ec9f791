"""Checks of the host as a whole: KVM, the IOMMU, firmware, /dev/vfio."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from noos_qemu.gpu.check import Check, missing, ok
from noos_qemu.gpu.pci import Host, iommu_groups_dir

KVM_SUBJECT = "KVM usable"
IOMMU_SUBJECT = "IOMMU enabled"
OVMF_SUBJECT = "OVMF present"


def read_writable(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK)


def check_kvm(host: Host, kvm_boots: Callable[[], bool]) -> Check:
    """`kvm_boots` is accel.py's verdict (a real guest boot), asked only when
    /dev/kvm is there to ask about: a device that opens is not yet a KVM that works."""
    device = host.path("/dev/kvm")
    if not device.exists():
        return missing(
            KVM_SUBJECT,
            "/dev/kvm does not exist; enable virtualization (VT-x or AMD-V) in the firmware "
            "setup and load the kvm_intel or kvm_amd module",
        )
    if not read_writable(device):
        return missing(
            KVM_SUBJECT,
            "/dev/kvm is not readable and writable by this user; add the user to the kvm "
            "group (sudo usermod -aG kvm $USER) and log in again",
        )
    if not kvm_boots():
        return missing(
            KVM_SUBJECT,
            "/dev/kvm opens, but a Linux guest does not boot under KVM on this host "
            "(the probe in noos_qemu/accel.py; NOOS_QEMU_ACCEL=tcg forces the same)",
        )
    return ok(KVM_SUBJECT, "/dev/kvm")


def check_iommu(host: Host) -> Check:
    groups = iommu_groups_dir(host)
    # Each group is a directory (a recorded tree may hold a placeholder file).
    count = sum(1 for entry in groups.iterdir() if entry.is_dir()) if groups.is_dir() else 0
    if count == 0:
        return missing(
            IOMMU_SUBJECT,
            f"IOMMU is off: {host.shown(groups)} is empty; enable VT-d (or AMD-Vi) in the "
            "firmware setup and boot the host with intel_iommu=on (or amd_iommu=on) iommu=pt",
        )
    return ok(IOMMU_SUBJECT, f"{count} groups under {host.shown(groups)}")


def check_ovmf(host: Host, firmware: tuple[Path, ...]) -> Check:
    absent = [str(path) for path in firmware if not host.path(str(path)).is_file()]
    if absent:
        return missing(
            OVMF_SUBJECT,
            f"{', '.join(absent)} not found; install the UEFI firmware: sudo apt install ovmf",
        )
    return ok(OVMF_SUBJECT, ", ".join(str(path) for path in firmware))


def check_vfio_group_node(host: Host, group: str) -> Check:
    subject = f"/dev/vfio/{group} accessible"
    node = host.path(f"/dev/vfio/{group}")
    container = host.path("/dev/vfio/vfio")
    if not node.exists():
        return missing(
            subject,
            f"/dev/vfio/{group} does not exist; it appears once every endpoint of IOMMU group "
            f"{group} is bound to vfio-pci",
        )
    unusable = [host.shown(path) for path in (container, node) if not read_writable(path)]
    if unusable:
        return missing(
            subject,
            f"{' and '.join(unusable)} not readable and writable by this user; run as root, "
            f"or sudo chown $USER {' '.join(unusable)}",
        )
    return ok(subject, f"/dev/vfio/vfio, /dev/vfio/{group}")
