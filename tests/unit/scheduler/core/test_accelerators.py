"""The accelerator rules on devices made from sysfs attributes, and what follows
for the scheduler: the VRAM budget, llama.cpp's GPU layers, the D-Bus details."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from noosd.scheduler.core.accelerators import (
    ALL_LAYERS,
    Accelerator,
    DisplayDevice,
    accelerator,
    describe,
    display_device,
    gpu_layers,
    placed,
    vram_budget,
)
from noosd.scheduler.core.catalog import Backend, Catalog
from noosd.scheduler.interface import accelerator_details
from noosd.scheduler.live import hardware
from noosd.scheduler.live.hardware import Hotplug, nvidia_vram, udev_monitor
from noosd.scheduler.settings import SETTINGS, SchedulerSettings
from tests.unit.scheduler.fakes import model

GIB = 1024**3
SLOT = "0000:01:00.0"
NVIDIA_NODES = ("/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm")


@dataclass
class FakeMachine:
    """The machine's answers, and which questions the rules asked."""

    nodes: Sequence[str] = ()
    gpu_offload: bool = False
    vram: int = 24 * GIB
    asked: list[str] = field(default_factory=list)

    def nvidia_nodes(self) -> Sequence[str]:
        self.asked.append("nodes")
        return self.nodes

    def llama_gpu_offload(self) -> bool:
        self.asked.append("llama.cpp")
        return self.gpu_offload

    def nvidia_vram_bytes(self, slot: str) -> int:
        self.asked.append(f"vram {slot}")
        return self.vram


def device(
    vendor: str, device_id: str, driver: str | None, pci_class: str = "0x030000\n"
) -> DisplayDevice:
    found = display_device(
        f"/sys/devices/pci0000:00/0000:00:01.0/{SLOT}",
        # As sysfs gives them: hexadecimal, a newline at the end.
        {"vendor": f"{vendor}\n", "device": f"{device_id}\n", "class": pci_class},
        driver,
        ["/dev/dri/renderD128", "/dev/dri/card0"],
    )
    assert found is not None
    return found


def judged(
    vendor: str, device_id: str, driver: str | None, machine: FakeMachine | None = None
) -> Accelerator:
    return accelerator(device(vendor, device_id, driver), machine or FakeMachine())


def test_a_device_is_read_from_its_sysfs_attributes() -> None:
    qemu_vga = device("0x1234", "0x1111", "bochs-drm")

    assert qemu_vga == DisplayDevice(
        sys_path=f"/sys/devices/pci0000:00/0000:00:01.0/{SLOT}",
        slot=SLOT,
        vendor_id=0x1234,
        device_id=0x1111,
        pci_class=0x030000,
        driver="bochs-drm",
        drm_nodes=("/dev/dri/card0", "/dev/dri/renderD128"),
    )
    assert qemu_vga.vendor == "QEMU"


@pytest.mark.parametrize(
    "attributes",
    [
        {"vendor": "0x1af4", "device": "0x1041", "class": "0x020000"},  # a network card
        {"vendor": "0x1234", "device": "0x1111"},  # no class: unreadable
        {"vendor": "0x1234", "device": "0x1111", "class": "VGA"},
    ],
)
def test_other_devices_and_unreadable_ones_are_not_display_devices(
    attributes: dict[str, str],
) -> None:
    assert display_device(f"/sys/devices/pci0000:00/{SLOT}", attributes, "virtio-pci") is None


def test_qemu_std_vga_is_an_emulated_adapter_without_compute() -> None:
    machine = FakeMachine(nodes=NVIDIA_NODES, gpu_offload=True)

    qemu_vga = judged("0x1234", "0x1111", "bochs-drm", machine)

    assert not qemu_vga.usable
    assert qemu_vga.why == "an emulated display adapter (QEMU std VGA): no compute"
    assert qemu_vga.vram_bytes == 0
    assert machine.asked == []


def test_nvidia_with_its_driver_but_a_cpu_llama_cpp_is_not_used() -> None:
    machine = FakeMachine(nodes=NVIDIA_NODES, gpu_offload=False)

    gpu = judged("0x10de", "0x2684", "nvidia", machine)

    assert not gpu.usable
    assert gpu.why == "llama.cpp here is the CPU build: rebuild with CUDA (mkosi profile gpu)"
    assert gpu.vram_bytes == 0
    assert "vram 0000:01:00.0" not in machine.asked


def test_nvidia_with_its_driver_nodes_and_a_gpu_llama_cpp_is_used_with_its_memory() -> None:
    machine = FakeMachine(nodes=NVIDIA_NODES, gpu_offload=True, vram=24 * GIB)

    gpu = judged("0x10de", "0x2684", "nvidia", machine)

    assert gpu.usable
    assert gpu.vram_bytes == 24 * GIB
    assert machine.asked == ["nodes", "llama.cpp", f"vram {SLOT}"]


@pytest.mark.parametrize("nodes", [(), ("/dev/nvidiactl",), ("/dev/nvidia0", "/dev/nvidia-uvm")])
def test_nvidia_without_its_device_nodes_is_not_used_and_llama_cpp_is_not_loaded(
    nodes: tuple[str, ...],
) -> None:
    machine = FakeMachine(nodes=nodes, gpu_offload=True)

    gpu = judged("0x10de", "0x2684", "nvidia", machine)

    assert not gpu.usable
    assert "/dev/nvidiactl" in gpu.why
    assert "PrivateDevices=" in gpu.why
    assert machine.asked == ["nodes"]


@pytest.mark.parametrize(
    ("vendor", "device_id", "driver", "why"),
    [
        (
            "0x10de",
            "0x2684",
            "nouveau",
            "the open nouveau driver has no CUDA: install the NVIDIA driver (profile gpu)",
        ),
        (
            "0x10de",
            "0x2684",
            "vfio-pci",
            "bound to vfio-pci, not to the NVIDIA driver: install the NVIDIA driver (profile gpu)",
        ),
        ("0x10de", "0x2684", None, "no kernel driver bound"),
        (
            "0x1002",
            "0x744c",
            "amdgpu",
            "AMD GPUs need ROCm or Vulkan, and neither is in this image",
        ),
        ("0x8086", "0x56a0", "i915", "Intel GPUs are not supported for compute here"),
        (
            "0x1a03",
            "0x2000",
            "ast",
            "a server management controller's display (ASPEED): no compute",
        ),
        (
            "0x1af4",
            "0x1050",
            "virtio-pci",
            "a paravirtual display adapter (virtio-gpu): no compute",
        ),
        ("0x5143", "0x0001", "msm", "no compute backend here for vendor 0x5143 devices"),
    ],
)
def test_every_other_device_says_why_it_is_not_used(
    vendor: str, device_id: str, driver: str | None, why: str
) -> None:
    machine = FakeMachine(nodes=NVIDIA_NODES, gpu_offload=True)

    found = judged(vendor, device_id, driver, machine)

    assert (found.usable, found.why, found.vram_bytes) == (False, why, 0)
    assert "llama.cpp" not in machine.asked


def test_the_vram_budget_is_the_usable_accelerators_memory() -> None:
    usable = FakeMachine(nodes=NVIDIA_NODES, gpu_offload=True, vram=8 * GIB)
    gpus = [judged("0x10de", "0x2684", "nvidia", usable) for _ in range(2)]

    assert vram_budget([*gpus, judged("0x1234", "0x1111", "bochs-drm")]) == 16 * GIB
    assert vram_budget([judged("0x10de", "0x2684", "nouveau")]) == 0
    assert vram_budget([]) == 0


def test_models_that_declare_vram_go_on_a_usable_gpu_and_the_rest_stay_on_the_cpu() -> None:
    gpu = judged("0x10de", "0x2684", "nvidia", FakeMachine(nodes=NVIDIA_NODES, gpu_offload=True))
    cpu_llama = judged("0x10de", "0x2684", "nvidia", FakeMachine(nodes=NVIDIA_NODES))
    on_gpu = model("big", vram_bytes=4 * GIB)
    on_cpu = model("small")
    remote = model("remote", backend=Backend.OPENAI, vram_bytes=4 * GIB)

    assert gpu_layers([gpu], on_gpu) == ALL_LAYERS
    assert gpu_layers([gpu], on_cpu) == 0
    assert gpu_layers([gpu], remote) == 0
    assert gpu_layers([cpu_llama], on_gpu) == 0
    assert gpu_layers([], on_gpu) == 0
    placed_catalog = placed(Catalog([on_gpu, on_cpu]), [gpu])
    assert {spec.name: spec.gpu_layers for spec in placed_catalog} == {"big": -1, "small": 0}


def test_the_log_line_names_the_device_and_why() -> None:
    line = describe(judged("0x1234", "0x1111", "bochs-drm"))

    assert line == (
        "accelerator 0000:01:00.0 (QEMU 0x1234:0x1111, class 0x030000, driver bochs-drm, "
        "/dev/dri/card0, /dev/dri/renderD128): not used for compute: "
        "an emulated display adapter (QEMU std VGA): no compute"
    )


def test_the_dbus_details_give_the_ids_in_hexadecimal() -> None:
    details = accelerator_details(judged("0x1234", "0x1111", None))

    assert {key: variant.value for key, variant in details.items()} == {
        "vendor_id": "0x1234",
        "device_id": "0x1111",
        "class": "0x030000",
        "vendor": "QEMU",
        "driver": "",
        "drm_nodes": ["/dev/dri/card0", "/dev/dri/renderD128"],
        "usable": False,
        "why": "an emulated display adapter (QEMU std VGA): no compute",
        "vram_bytes": 0,
        "sys_path": f"/sys/devices/pci0000:00/0000:00:01.0/{SLOT}",
    }
    assert details["vram_bytes"].signature == "t"


def test_nvidia_smi_memory_is_read_by_pci_slot() -> None:
    csv = "00000000:01:00.0, 24564\n00000001:A1:00.0, 81559\n00000000:02:00.0, [N/A]\n"

    assert nvidia_vram(csv) == {
        "0000:01:00.0": 24564 * 1024**2,
        "0001:a1:00.0": 81559 * 1024**2,
    }


def test_the_vram_budget_defaults_to_the_accelerators_and_the_environment_overrides_it(
    tmp_path: Path,
) -> None:
    usable = FakeMachine(nodes=NVIDIA_NODES, gpu_offload=True, vram=8 * GIB)
    gpus = [judged("0x10de", "0x2684", "nvidia", usable)]
    unset = SchedulerSettings.of(SETTINGS.load(tmp_path, environ={}))
    assert unset.config_with(gpus).vram_bytes == 8 * GIB
    assert unset.config_with([]).vram_bytes == 0

    environ = {"NOOS_SCHEDULER_VRAM_BYTES": "1000"}
    overridden = SchedulerSettings.of(SETTINGS.load(tmp_path, environ=environ))
    assert overridden.config_with(gpus).vram_bytes == 1000


class FakeMonitor:
    """udev's events as bytes in a pipe: each byte one PCI device's "add"."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)

    def fileno(self) -> int:
        return self.read_end

    def poll(self, timeout: float) -> SimpleNamespace | None:
        try:
            os.read(self.read_end, 1)
        except BlockingIOError:
            return None
        return SimpleNamespace(action="add", sys_path=f"/sys/devices/pci0000:00/{SLOT}")

    def events(self, count: int) -> None:
        os.write(self.write_end, b"e" * count)

    def close(self) -> None:
        os.close(self.read_end)
        os.close(self.write_end)


async def test_a_burst_of_udev_events_discovers_the_accelerators_again_once() -> None:
    monitor = FakeMonitor()
    found = [judged("0x10de", "0x2684", "nouveau")]
    discoveries: list[int] = []
    changes: asyncio.Queue[list[Accelerator]] = asyncio.Queue()

    def rediscover() -> list[Accelerator]:
        discoveries.append(1)
        return found

    hotplug = Hotplug(changes.put_nowait, rediscover, open_monitor=lambda: monitor)
    hotplug.start()
    try:
        # The GPU, its driver bound, its DRM nodes: one burst.
        monitor.events(3)
        assert await asyncio.wait_for(changes.get(), 5) == found
        assert len(discoveries) == 1
    finally:
        hotplug.stop()
        monitor.close()


def test_without_udevd_no_monitor_opens_and_the_log_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(hardware, "UDEVD_CONTROL", tmp_path / "control")

    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        assert udev_monitor() is None

    assert "udevd is not running: no hotplug events" in caplog.text
