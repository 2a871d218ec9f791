"""Checks of the GPU itself: the device, its IOMMU group, and each function's driver.

VFIO hands whole IOMMU groups to a guest: every endpoint in the group must be
bound to vfio-pci before /dev/vfio/<group> opens. PCI bridges in the group are
the exception (the kernel lets them stay with pcieport, and the guest has no
use for the host's bridges), so they are reported but never passed through.
`--bind` moves only the GPU's own functions (its slot's); another endpoint
that shares the group (no ACS between the slots) is the host's, and taking it
away, a USB controller with the keyboard say, is left to the user's decision."""

from __future__ import annotations

from dataclasses import dataclass

from noos_qemu.gpu.check import Check, missing, ok
from noos_qemu.gpu.pci import Host, PciFunction, group_members, iommu_group_number, read_function

VFIO_DRIVER = "vfio-pci"
DISPLAY_CLASS = 0x03


@dataclass(frozen=True)
class IommuGroup:
    number: str
    gpu: PciFunction
    members: tuple[PciFunction, ...]

    @property
    def endpoints(self) -> tuple[PciFunction, ...]:
        """What QEMU is given: every member but the bridges."""
        return tuple(member for member in self.members if not member.is_bridge)

    def reread(self, host: Host) -> IommuGroup:
        """The group as it is now (after a bind, its drivers have changed)."""
        return IommuGroup(self.number, self.gpu, tuple(group_members(host, self.number)))

    def is_gpu_function(self, function: PciFunction) -> bool:
        return function.slot == self.gpu.slot

    def to_bind(self) -> tuple[PciFunction, ...]:
        """The GPU's functions that `--bind` moves to vfio-pci."""
        return tuple(
            member
            for member in self.endpoints
            if self.is_gpu_function(member) and member.driver != VFIO_DRIVER
        )


def find_gpu(host: Host, bdf: str) -> tuple[Check, PciFunction | None]:
    subject = f"GPU {bdf} present"
    directory = host.device_dir(bdf)
    if not directory.is_dir():
        return missing(
            subject,
            f"no PCI device {bdf} ({host.shown(directory)} does not exist); "
            "list the display devices with lspci -D -d ::03xx",
        ), None
    gpu = read_function(host, bdf)
    if gpu.class_code >> 16 != DISPLAY_CLASS:
        return missing(
            subject,
            f"{gpu.describe()} is not a display controller (PCI class 03xx)",
        ), None
    return ok(subject, f"{gpu.ids} {gpu.kind}, {host.shown(directory)}"), gpu


def find_group(host: Host, gpu: PciFunction) -> tuple[Check, IommuGroup | None]:
    number = iommu_group_number(host, gpu.bdf)
    if number is None:
        link = host.device_dir(gpu.bdf) / "iommu_group"
        return missing(
            "IOMMU group",
            f"{host.shown(link)} does not exist: no IOMMU translates for {gpu.bdf}",
        ), None
    group = IommuGroup(number, gpu, tuple(group_members(host, number)))
    listing = ", ".join(member.bdf for member in group.members)
    return ok(f"IOMMU group {number}", listing), group


def check_function(host: Host, group: IommuGroup, function: PciFunction, bind: bool) -> Check:
    subject = f"{function.describe()} bound to {VFIO_DRIVER}"
    bound = function.driver or "no driver"
    if function.is_bridge:
        return ok(
            f"{function.describe()} stays with {bound}",
            "a bridge: VFIO allows it in the group, and it is not passed through",
        )
    if function.driver == VFIO_DRIVER:
        return ok(subject, host.shown(host.device_dir(function.bdf) / "driver"))
    if not group.is_gpu_function(function):
        return missing(
            subject,
            f"it shares IOMMU group {group.number} with the GPU but is not one of its "
            f"functions, and is bound to {bound}; VFIO passes whole groups: bind it to "
            f"{VFIO_DRIVER} yourself if the host can spare it (--bind moves only the GPU's "
            "own functions), or move the GPU to a slot with an IOMMU group of its own (ACS)",
        )
    if bind:
        return ok(
            f"{function.describe()} moved to {VFIO_DRIVER} by --bind",
            f"now {bound}; back to it when QEMU exits",
        )
    device = host.shown(host.device_dir(function.bdf))
    return missing(
        subject,
        f"it is bound to {bound}; rerun with --bind, or by hand as root: "
        f"echo {VFIO_DRIVER} > {device}/driver_override; "
        + (f"echo {function.bdf} > {device}/driver/unbind; " if function.driver else "")
        + f"echo {function.bdf} > /sys/bus/pci/drivers_probe",
    )


def check_functions(host: Host, group: IommuGroup, bind: bool) -> list[Check]:
    return [check_function(host, group, member, bind) for member in group.members]
