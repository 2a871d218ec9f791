"""PCI functions and IOMMU groups as Linux shows them under /sys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Domain:bus:slot.function, as lspci -D and sysfs spell it.
BDF_PATTERN = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
PCI_BRIDGE_CLASS = 0x0604
CLASS_NAMES = {
    0x0106: "SATA controller",
    0x0108: "NVMe controller",
    0x0300: "VGA compatible controller",
    0x0302: "3D controller",
    0x0380: "display controller",
    0x0403: "audio device",
    0x0604: "PCI bridge",
    0x0C03: "USB controller",
}


def parse_bdf(text: str) -> str:
    """The canonical form of a PCI address; "01:00.0" gets domain 0000."""
    bdf = text.strip().lower()
    if re.fullmatch(r"[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]", bdf):
        bdf = f"0000:{bdf}"
    if not BDF_PATTERN.match(bdf):
        raise ValueError(f"not a PCI address: {text!r} (expected e.g. 0000:01:00.0)")
    return bdf


@dataclass(frozen=True)
class Host:
    """The host's /sys, /dev and /proc under `root` ("/" on a real machine)."""

    root: Path

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def device_dir(self, bdf: str) -> Path:
        return self.path(f"/sys/bus/pci/devices/{bdf}")

    def shown(self, path: Path) -> str:
        """`path` as it is on the host, so messages name the real file."""
        return "/" + str(path.relative_to(self.root))


@dataclass(frozen=True)
class PciFunction:
    bdf: str
    vendor: int
    device: int
    # The 24-bit class code; its upper 16 bits (class, subclass) say what it is.
    class_code: int
    # The bound driver's name; None when no driver holds the function.
    driver: str | None

    @property
    def ids(self) -> str:
        return f"{self.vendor:04x}:{self.device:04x}"

    @property
    def kind(self) -> str:
        base = self.class_code >> 8
        return CLASS_NAMES.get(base, f"class {base:04x}")

    @property
    def is_bridge(self) -> bool:
        return self.class_code >> 8 == PCI_BRIDGE_CLASS

    @property
    def slot(self) -> str:
        """Domain:bus:slot, the part functions of one card share."""
        return self.bdf.rsplit(".", 1)[0]

    @property
    def function_number(self) -> int:
        return int(self.bdf.rsplit(".", 1)[1])

    def describe(self) -> str:
        return f"{self.bdf} ({self.ids} {self.kind})"


def read_function(host: Host, bdf: str) -> PciFunction:
    directory = host.device_dir(bdf)
    driver_link = directory / "driver"
    return PciFunction(
        bdf=bdf,
        vendor=int((directory / "vendor").read_text(), 16),
        device=int((directory / "device").read_text(), 16),
        class_code=int((directory / "class").read_text(), 16),
        driver=driver_link.readlink().name if driver_link.is_symlink() else None,
    )


def iommu_group_number(host: Host, bdf: str) -> str | None:
    """The group the function's `iommu_group` link names; None without an IOMMU."""
    link = host.device_dir(bdf) / "iommu_group"
    return link.readlink().name if link.is_symlink() else None


def iommu_groups_dir(host: Host) -> Path:
    return host.path("/sys/kernel/iommu_groups")


def group_members(host: Host, group: str) -> list[PciFunction]:
    """Every function in the group, in address order."""
    devices = iommu_groups_dir(host) / group / "devices"
    return [read_function(host, entry.name) for entry in sorted(devices.iterdir())]
