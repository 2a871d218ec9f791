"""The machine's accelerators, read with pyudev, and their comings and goings.

`discover` lists the PCI display devices with their DRM nodes and judges
them (`accelerators`), asking this machine what the rules need (`Machine`).
pyudev reads /sys through libudev, so it works without udevd, in a
container or a test; udevd only adds its database's properties, which are
not used here. `Hotplug` listens to udevd's events for PCI and DRM devices
(a GPU passed to the guest, a driver bound or unbound) and discovers again;
without udevd, or without netlink (a sandbox that forbids AF_NETLINK), it
says so and the list found at start stays.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyudev

from noosd.scheduler.core.accelerators import (
    Accelerator,
    ComputeSupport,
    accelerator,
    display_device,
)

_log = logging.getLogger(__name__)

DEV = Path("/dev")
# udevd's control socket: without it no event would ever arrive.
UDEVD_CONTROL = Path("/run/udev/control")
NVIDIA_SMI = "nvidia-smi"
NVIDIA_SMI_TIMEOUT_S = 10.0
MIB = 1024**2
# A device comes as a burst of events (the PCI device, its driver bound, its
# DRM nodes): discover once, after the burst.
SETTLE_S = 0.5


class Machine:
    """This machine's answers to the rules (`accelerators.ComputeSupport`),
    each found once, when first asked."""

    def __init__(self, dev: Path = DEV) -> None:
        self._dev = dev
        self._gpu_offload: bool | None = None
        self._vram: dict[str, int] | None = None

    def nvidia_nodes(self) -> Sequence[str]:
        return sorted(str(node) for node in self._dev.glob("nvidia*") if not node.is_dir())

    def llama_gpu_offload(self) -> bool:
        if self._gpu_offload is None:
            # Loads llama.cpp's libraries: only when an NVIDIA GPU could be used.
            import llama_cpp

            self._gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
        return self._gpu_offload

    def nvidia_vram_bytes(self, slot: str) -> int:
        if self._vram is None:
            self._vram = _query_nvidia_vram()
        return self._vram.get(slot, 0)


def _query_nvidia_vram() -> dict[str, int]:
    try:
        result = subprocess.run(
            [
                NVIDIA_SMI,
                "--query-gpu=pci.bus_id,memory.total",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        _log.warning(
            "%s cannot tell the GPUs' memory (%s): set NOOS_SCHEDULER_VRAM_BYTES", NVIDIA_SMI, error
        )
        return {}
    return nvidia_vram(result.stdout)


def nvidia_vram(csv: str) -> dict[str, int]:
    """The memory of each GPU by PCI slot, from nvidia-smi's
    `--query-gpu=pci.bus_id,memory.total --format=csv,noheader,nounits`
    ("00000000:01:00.0, 24564": an 8-digit domain, MiB)."""
    memory: dict[str, int] = {}
    for line in csv.splitlines():
        bus_id, _, mib = line.partition(",")
        domain, _, rest = bus_id.strip().partition(":")
        try:
            memory[f"{int(domain, 16):04x}:{rest.lower()}"] = int(mib) * MIB
        except ValueError:
            continue  # "[N/A]", or a line that is not a GPU's
    return memory


def discover(support: ComputeSupport | None = None) -> list[Accelerator]:
    """The PCI display devices of this machine, judged, in PCI slot order."""
    context = pyudev.Context()
    drm_nodes: dict[str, list[str]] = {}
    for node in context.list_devices(subsystem="drm"):
        # card0 and renderD128 have nodes; their connectors (card0-VGA-1) none.
        pci = node.find_parent("pci")
        if pci is not None and node.device_node:
            drm_nodes.setdefault(str(pci.sys_path), []).append(str(node.device_node))
    devices = []
    for pci in context.list_devices(subsystem="pci"):
        sys_path = str(pci.sys_path)
        device = display_device(
            sys_path,
            _attributes(pci, ("vendor", "device", "class")),
            str(pci.driver) if pci.driver else None,
            drm_nodes.get(sys_path, ()),
        )
        if device is not None:
            devices.append(device)
    machine = support or Machine()
    return [accelerator(device, machine) for device in sorted(devices, key=lambda d: d.slot)]


def _attributes(device: pyudev.Device, names: Sequence[str]) -> dict[str, str]:
    values = {}
    for name in names:
        value = device.attributes.get(name)
        if value is not None:
            values[name] = bytes(value).decode("ascii", "replace")
    return values


def udev_monitor() -> Any:
    """A started pyudev Monitor of PCI and DRM devices' events; None, logged,
    when none can come (no udevd, or no netlink socket in this sandbox)."""
    if not UDEVD_CONTROL.exists():
        _log.info("udevd is not running: no hotplug events; the accelerators found at start stay")
        return None
    try:
        monitor = pyudev.Monitor.from_netlink(pyudev.Context())
        monitor.filter_by("pci")
        monitor.filter_by("drm")
        monitor.start()
    except OSError as error:
        _log.warning(
            "no hotplug events (udev's netlink socket: %s); the accelerators found at start stay",
            error,
        )
        return None
    return monitor


class Hotplug:
    """Discovers the accelerators again (`rediscover`) when udev says a PCI or
    DRM device came, went or changed (its driver bound or unbound), and hands
    the new list to `on_change`, on the event loop."""

    def __init__(
        self,
        on_change: Callable[[list[Accelerator]], None],
        rediscover: Callable[[], list[Accelerator]] = discover,
        open_monitor: Callable[[], Any] = udev_monitor,
    ) -> None:
        self._on_change = on_change
        self._rediscover = rediscover
        self._open_monitor = open_monitor
        # pyudev's Monitor (no type hints): fileno() and poll(timeout).
        self._monitor: Any = None
        self._settling: asyncio.TimerHandle | None = None
        # One discovery at a time, in order: the last one's list is the latest.
        self._discoverer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accelerators")

    def start(self) -> None:
        """Listen, from the running loop."""
        self._monitor = self._open_monitor()
        if self._monitor is not None:
            asyncio.get_running_loop().add_reader(self._monitor.fileno(), self._on_events)

    def stop(self) -> None:
        if self._settling is not None:
            self._settling.cancel()
        if self._monitor is not None:
            asyncio.get_running_loop().remove_reader(self._monitor.fileno())
            self._monitor = None
        self._discoverer.shutdown(wait=False, cancel_futures=True)

    def _on_events(self) -> None:
        while (device := self._monitor.poll(timeout=0)) is not None:
            _log.debug("udev: %s %s", device.action, device.sys_path)
        if self._settling is not None:
            self._settling.cancel()
        self._settling = asyncio.get_running_loop().call_later(SETTLE_S, self._discover_again)

    def _discover_again(self) -> None:
        self._settling = None
        found = asyncio.get_running_loop().run_in_executor(self._discoverer, self._rediscover)
        found.add_done_callback(self._found)

    def _found(self, found: asyncio.Future[list[Accelerator]]) -> None:
        if found.cancelled() or self._monitor is None:  # stopped meanwhile
            return
        error = found.exception()
        if error is not None:
            _log.error("discovering the accelerators again failed: %s", error)
            return
        self._on_change(found.result())
