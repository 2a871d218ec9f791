"""The QEMU arguments that put the GPU, or its stand-in, into the guest.

Each host slot gets a PCIe root port of its own and keeps its function
numbers behind it, so the guest sees the card as the host does: a PCIe
endpoint with its audio function beside it. (Put on the root bus, q35 would
show the GPU as an integrated endpoint, which GPU drivers do not expect.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from noos_qemu.gpu.memory_checks import HUGEPAGES_MOUNT
from noos_qemu.gpu.pci import PciFunction

PORT_PREFIX = "gpu-port"
# QEMU's standard VGA card, 1234:1111 with PCI class 0x0300 like a real GPU's
# function 0; the guest kernel enumerates it (bochs-drm drives it) without
# any host device.
EMULATED_DISPLAY = "VGA"


def root_port(index: int) -> tuple[str, list[str]]:
    """A root port's id and the arguments that add it; chassis and slot must
    be unique per port."""
    port = f"{PORT_PREFIX}{index}"
    return port, ["-device", f"pcie-root-port,id={port},chassis={index},slot={index}"]


def vfio_args(functions: Sequence[PciFunction]) -> list[str]:
    slots: dict[str, list[PciFunction]] = {}
    for function in functions:
        slots.setdefault(function.slot, []).append(function)
    argv: list[str] = []
    for index, members in enumerate(slots.values(), start=1):
        port, port_args = root_port(index)
        argv += port_args
        for member in members:
            options = f"vfio-pci,host={member.bdf},bus={port},addr=00.{member.function_number}"
            if member.function_number == 0 and len(members) > 1:
                options += ",multifunction=on"
            argv += ["-device", options]
    return argv


@dataclass(frozen=True)
class Passthrough:
    """The host functions handed to the guest, and how its memory is backed."""

    functions: tuple[PciFunction, ...]
    hugepages: bool = False

    def qemu_args(self) -> list[str]:
        memory = ["-mem-path", HUGEPAGES_MOUNT, "-mem-prealloc"] if self.hugepages else []
        return memory + vfio_args(self.functions)


def emulated_display_args() -> list[str]:
    """The GPU profile's test mode: the emulated display where the GPU would be."""
    port, port_args = root_port(1)
    return [*port_args, "-device", f"{EMULATED_DISPLAY},bus={port},addr=00.0"]
