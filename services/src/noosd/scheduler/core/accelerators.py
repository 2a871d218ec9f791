"""Accelerators: the machine's PCI display devices, and whether models run on them.

The pure part of the scheduler's hardware awareness. `hardware` reads the
devices from sysfs (pyudev) and answers what the rules ask of the machine
(`ComputeSupport`); here are the rules that say whether llama.cpp can compute
on a device and, when not, why, and what follows for the scheduler: the VRAM
budget and the layers llama.cpp offloads.

Only NVIDIA GPUs are usable, and only when everything CUDA needs is there:
the NVIDIA kernel driver bound to the device, its device nodes
(/dev/nvidiactl and /dev/nvidiaN) visible to the service, and a llama.cpp
built with GPU offload. Every other display device (an emulated VGA, an
Intel or AMD GPU, a server's management display) is listed with the reason
it is not used, and models stay on the CPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Protocol

from noosd.scheduler.core.catalog import Backend, Catalog, ModelSpec

# A PCI class code is base class, subclass, programming interface (a byte
# each); base class 0x03 is a display controller (VGA 0x0300, 3D 0x0302).
DISPLAY_BASE_CLASS = 0x03
NVIDIA = 0x10DE
AMD = 0x1002
INTEL = 0x8086
# llama.cpp's n_gpu_layers for "every layer".
ALL_LAYERS = -1
# The driver that gives CUDA its devices; nouveau, the open one, has no CUDA.
NVIDIA_DRIVER = "nvidia"

VENDOR_NAMES = {
    NVIDIA: "NVIDIA",
    AMD: "AMD",
    INTEL: "Intel",
    0x1234: "QEMU",
    0x1AF4: "Red Hat (virtio)",
    0x1B36: "Red Hat (QEMU)",
    0x15AD: "VMware",
    0x1013: "Cirrus Logic",
    0x1A03: "ASPEED",
    0x102B: "Matrox",
}

# Display adapters that only draw: virtual machines' and servers' management ones.
DISPLAY_ONLY = {
    (0x1234, 0x1111): "an emulated display adapter (QEMU std VGA)",
    (0x1AF4, 0x1050): "a paravirtual display adapter (virtio-gpu)",
    (0x1B36, 0x0100): "an emulated display adapter (QXL)",
    (0x15AD, 0x0405): "an emulated display adapter (VMware SVGA II)",
    (0x1013, 0x00B8): "an emulated display adapter (Cirrus)",
    (0x1A03, 0x2000): "a server management controller's display (ASPEED)",
}


@dataclass(frozen=True)
class DisplayDevice:
    """A PCI display-class device as sysfs shows it."""

    sys_path: str
    # The PCI address, domain:bus:device.function ("0000:00:02.0").
    slot: str
    vendor_id: int
    device_id: int
    pci_class: int
    # The kernel driver bound to it; None when none is.
    driver: str | None
    # Its DRM device nodes (/dev/dri/card0, /dev/dri/renderD128).
    drm_nodes: tuple[str, ...]

    @property
    def vendor(self) -> str:
        return VENDOR_NAMES.get(self.vendor_id, f"vendor 0x{self.vendor_id:04x}")


def display_device(
    sys_path: str,
    attributes: Mapping[str, str],
    driver: str | None,
    drm_nodes: Iterable[str] = (),
) -> DisplayDevice | None:
    """The display device at `sys_path` with these sysfs `attributes` (vendor,
    device, class: hexadecimal, as in /sys/bus/pci/devices/*/); None when it is
    not a display device, or its attributes are unreadable."""
    try:
        vendor_id, device_id, pci_class = (
            int(attributes[name].strip(), 16) for name in ("vendor", "device", "class")
        )
    except (KeyError, ValueError):
        return None
    if pci_class >> 16 != DISPLAY_BASE_CLASS:
        return None
    return DisplayDevice(
        sys_path=sys_path,
        slot=PurePosixPath(sys_path).name,
        vendor_id=vendor_id,
        device_id=device_id,
        pci_class=pci_class,
        driver=driver or None,
        drm_nodes=tuple(sorted(drm_nodes)),
    )


class ComputeSupport(Protocol):
    """What the rules ask of the machine beyond the device itself. Each is
    asked only when the rules need it: answering may load llama.cpp or run
    nvidia-smi."""

    def nvidia_nodes(self) -> Sequence[str]:
        """The NVIDIA device nodes this process sees (/dev/nvidiactl, /dev/nvidia0...)."""

    def llama_gpu_offload(self) -> bool:
        """Whether the llama.cpp here was built with a GPU backend."""

    def nvidia_vram_bytes(self, slot: str) -> int:
        """The memory of the NVIDIA GPU at PCI `slot`; 0 when it cannot be told."""


@dataclass(frozen=True)
class Accelerator:
    """A display device and whether the scheduler computes on it."""

    device: DisplayDevice
    usable: bool
    # Why it is usable, or why not, for the log and the Accelerators property.
    why: str
    # Its memory when usable, for the VRAM budget; 0 otherwise.
    vram_bytes: int


def accelerator(device: DisplayDevice, support: ComputeSupport) -> Accelerator:
    """`device` judged by the rules."""
    reason = _unusable_because(device, support)
    if reason is not None:
        return Accelerator(device, usable=False, why=reason, vram_bytes=0)
    return Accelerator(
        device,
        usable=True,
        why="the NVIDIA driver, its device nodes and a llama.cpp with GPU offload",
        vram_bytes=support.nvidia_vram_bytes(device.slot),
    )


def _unusable_because(device: DisplayDevice, support: ComputeSupport) -> str | None:
    display_only = DISPLAY_ONLY.get((device.vendor_id, device.device_id))
    if display_only is not None:
        return f"{display_only}: no compute"
    if device.driver is None:
        return "no kernel driver bound"
    if device.vendor_id == AMD:
        return "AMD GPUs need ROCm or Vulkan, and neither is in this image"
    if device.vendor_id == INTEL:
        return "Intel GPUs are not supported for compute here"
    if device.vendor_id != NVIDIA:
        return f"no compute backend here for {device.vendor} devices"
    if device.driver == "nouveau":
        return "the open nouveau driver has no CUDA: install the NVIDIA driver (profile gpu)"
    if device.driver != NVIDIA_DRIVER:
        return (
            f"bound to {device.driver}, not to the NVIDIA driver: "
            "install the NVIDIA driver (profile gpu)"
        )
    nodes = [PurePosixPath(node).name for node in support.nvidia_nodes()]
    if "nvidiactl" not in nodes or not any(name[len("nvidia") :].isdigit() for name in nodes):
        return (
            "no /dev/nvidiactl and /dev/nvidiaN here: the driver made none, "
            "or the service's PrivateDevices= hides them (profile gpu allows them)"
        )
    if not support.llama_gpu_offload():
        return "llama.cpp here is the CPU build: rebuild with CUDA (mkosi profile gpu)"
    return None


def vram_budget(accelerators: Iterable[Accelerator]) -> int:
    """The VRAM resident models may take: all of the usable accelerators'."""
    return sum(a.vram_bytes for a in accelerators if a.usable)


def gpu_layers(accelerators: Iterable[Accelerator], spec: ModelSpec) -> int:
    """The layers llama.cpp offloads for `spec`: all of them for a llama-cpp
    model that declares VRAM when an accelerator is usable; none (the CPU) else."""
    offloads = spec.backend is Backend.LLAMA_CPP and spec.vram_bytes > 0
    return ALL_LAYERS if offloads and any(a.usable for a in accelerators) else 0


def placed(catalog: Catalog, accelerators: Sequence[Accelerator]) -> Catalog:
    """`catalog` with each model's `gpu_layers` decided by the accelerators."""
    return Catalog(replace(spec, gpu_layers=gpu_layers(accelerators, spec)) for spec in catalog)


def describe(accelerator: Accelerator) -> str:
    """One line for the log: the device, and why it is used or not."""
    device = accelerator.device
    known = [f"driver {device.driver}" if device.driver else "no driver", *device.drm_nodes]
    verdict = "used for compute" if accelerator.usable else "not used for compute"
    memory = f", {accelerator.vram_bytes} bytes of VRAM" if accelerator.usable else ""
    return (
        f"accelerator {device.slot} ({device.vendor} 0x{device.vendor_id:04x}:"
        f"0x{device.device_id:04x}, class 0x{device.pci_class:06x}, {', '.join(known)}): "
        f"{verdict}{memory}: {accelerator.why}"
    )
