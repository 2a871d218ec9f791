"""Checks of memory. VFIO maps all guest memory for the device's DMA, so all
of it is pinned for the VM's lifetime: it must be free now, the process must be
allowed to lock that much, and hugepages (optional) back it only when the
pool holds all of it."""

from __future__ import annotations

import re

from noos_qemu.gpu.check import Check, missing, note, ok
from noos_qemu.gpu.pci import Host

HUGEPAGES_MOUNT = "/dev/hugepages"
CAP_IPC_LOCK = 14
SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes in a QEMU -m size ("8G", "4096M"; a bare number is MiB, as for -m)."""
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", text.strip().upper())
    if not match:
        raise ValueError(f"not a memory size: {text!r} (expected e.g. 8G or 4096M)")
    return int(match.group(1)) * SIZE_UNITS[match.group(2) or "M"]


def gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"


def read_meminfo(host: Host) -> dict[str, int]:
    """/proc/meminfo's fields: the kB ones in bytes, the HugePages_* counts as is."""
    fields: dict[str, int] = {}
    for line in host.path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        number, *unit = value.split()
        fields[name] = int(number) * (1024 if unit == ["kB"] else 1)
    return fields


def hugetlbfs_mounted(host: Host) -> bool:
    for line in host.path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == HUGEPAGES_MOUNT and fields[2] == "hugetlbfs":
            return True
    return False


def check_hugepages(host: Host, meminfo: dict[str, int], guest: int) -> Check:
    """OK means: back the guest with hugepages. A NOTE means ordinary pages."""
    subject = "hugepages"
    total = meminfo.get("HugePages_Total", 0)
    if total == 0:
        return note(subject, "none configured (optional); the guest gets ordinary pages")
    page = meminfo["Hugepagesize"]
    free = meminfo["HugePages_Free"] * page
    if free < guest:
        return note(
            subject,
            f"{gib(free)} free of {total} x {page >> 10} kB pages, less than the guest's "
            f"{gib(guest)}; the guest gets ordinary pages (raise /proc/sys/vm/nr_hugepages)",
        )
    if not hugetlbfs_mounted(host):
        return note(
            subject,
            f"{HUGEPAGES_MOUNT} is not a hugetlbfs mount (/proc/mounts); the guest gets "
            "ordinary pages",
        )
    return ok(subject, f"{gib(guest)} of {gib(free)} free, from {HUGEPAGES_MOUNT}")


def check_memory(meminfo: dict[str, int], guest: int, from_hugepages: bool) -> Check:
    subject = f"guest memory {gib(guest)}"
    if from_hugepages:
        return ok(subject, "from the hugepage pool")
    available = meminfo["MemAvailable"]
    if available < guest:
        return missing(
            subject,
            f"only {gib(available)} available (/proc/meminfo MemAvailable), and VFIO pins "
            "all guest memory; pass a smaller --memory or free memory",
        )
    return ok(subject, f"{gib(available)} available, /proc/meminfo MemAvailable")


def locked_memory_limit(host: Host) -> int | None:
    """The soft RLIMIT_MEMLOCK in bytes, None for unlimited (QEMU inherits ours)."""
    for line in host.path("/proc/self/limits").read_text().splitlines():
        if line.startswith("Max locked memory"):
            soft = line[len("Max locked memory") :].split()[0]
            return None if soft == "unlimited" else int(soft)
    return None


def can_lock_any_amount(host: Host) -> bool:
    """CAP_IPC_LOCK (root has it) lifts the locked-memory limit."""
    for line in host.path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_IPC_LOCK & 1)
    return False


def check_locked_memory(host: Host, guest: int) -> Check:
    subject = "locked-memory limit"
    if can_lock_any_amount(host):
        return ok(subject, "CAP_IPC_LOCK, /proc/self/status")
    limit = locked_memory_limit(host)
    if limit is None:
        return ok(subject, "unlimited, /proc/self/limits")
    if limit < guest:
        return missing(
            subject,
            f"{limit >> 20} MiB (/proc/self/limits), but VFIO locks all {gib(guest)} of guest "
            "memory; run as root, or raise it: ulimit -l unlimited (permanently: "
            "'<user> hard memlock unlimited' in /etc/security/limits.conf)",
        )
    return ok(subject, f"{limit >> 20} MiB, /proc/self/limits")
