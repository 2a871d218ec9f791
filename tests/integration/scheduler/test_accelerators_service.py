"""org.noos.Scheduler1's Accelerators: the real `noosd scheduler` lists what
pyudev finds, logs why each device is used or not, and serves on the CPU
without a usable one.

On this machine as it is (whatever it has, possibly nothing), and on one
that shows QEMU's std VGA and an NVIDIA GPU: a sysfs of files over /sys in a
mount namespace of the service's own, read by the same libudev (told not to
insist that /sys be a sysfs mount).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from dbus_fast import Variant

from noos.bus import Connection
from noosd.scheduler.core.accelerators import Accelerator, accelerator, describe, display_device
from noosd.scheduler.interface import accelerator_details
from noosd.scheduler.live.hardware import Machine, discover
from tests.fixtures import noosd_process
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import running_scheduler, start_scheduler, write_catalog

NAME = "org.noos.Scheduler1"
PATH = "/org/noos/Scheduler1"
JOB = "org.noos.Scheduler1.Job"


@dataclass(frozen=True)
class FakePci:
    slot: str
    vendor: str
    device: str
    pci_class: str
    driver: str
    drm_minors: tuple[str, ...] = ()

    @property
    def attributes(self) -> dict[str, str]:
        return {"vendor": self.vendor, "device": self.device, "class": self.pci_class}

    @property
    def sys_path(self) -> str:
        return f"/sys/devices/pci0000:00/{self.slot}"


# What QEMU shows a guest started with `-device VGA`, beside a GPU and a NIC.
QEMU_VGA = FakePci("0000:00:02.0", "0x1234", "0x1111", "0x030000", "bochs-drm", ("card0",))
NVIDIA_GPU = FakePci("0000:01:00.0", "0x10de", "0x2684", "0x030200", "nvidia", ("card1",))
VIRTIO_NET = FakePci("0000:00:03.0", "0x1af4", "0x1041", "0x020000", "virtio-pci")


def write_sysfs(root: Path, devices: list[FakePci]) -> Path:
    """The files and links libudev reads for these PCI devices and their DRM nodes."""
    (root / "class/drm").mkdir(parents=True)
    (root / "bus/pci/devices").mkdir(parents=True)
    for pci in devices:
        device = root / pci.sys_path.removeprefix("/sys/")
        device.mkdir(parents=True)
        (root / "bus/pci/drivers" / pci.driver).mkdir(parents=True, exist_ok=True)
        (device / "uevent").write_text(f"DRIVER={pci.driver}\nPCI_SLOT_NAME={pci.slot}\n")
        for name, value in pci.attributes.items():
            (device / name).write_text(f"{value}\n")
        (device / "subsystem").symlink_to("../../../bus/pci")
        (device / "driver").symlink_to(f"../../../bus/pci/drivers/{pci.driver}")
        (root / "bus/pci/devices" / pci.slot).symlink_to(f"../../..{pci.sys_path[4:]}")
        for minor, name in enumerate(pci.drm_minors):
            node = device / "drm" / name
            node.mkdir(parents=True)
            (node / "uevent").write_text(f"MAJOR=226\nMINOR={minor}\nDEVNAME=dri/{name}\n")
            (node / "subsystem").symlink_to("../../../../../class/drm")
            (root / "class/drm" / name).symlink_to(f"../..{pci.sys_path[4:]}/drm/{name}")
    return root


def judged_here(pci: FakePci) -> Accelerator:
    """What the rules make of `pci`, with this machine's answers (/dev, llama.cpp)."""
    nodes = [f"/dev/dri/{name}" for name in pci.drm_minors]
    device = display_device(pci.sys_path, pci.attributes, pci.driver, nodes)
    assert device is not None
    return accelerator(device, Machine())


def noosd_over(sysfs: Path, directory: Path) -> Path:
    """A `noosd` that sees `sysfs` as /sys, in a mount namespace of its own."""
    wrapper = directory / "noosd"
    wrapper.write_text(
        "#!/bin/sh\n"
        # libudev checks that /sys is a sysfs mount, unless told not to.
        "SYSTEMD_DEVICE_VERIFY_SYSFS=0 exec unshare --mount --map-root-user "
        f'sh -c \'mount --bind {sysfs} /sys && exec "$0" "$@"\' {noosd_process.NOOSD} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture(scope="module")
def scheduler_service(
    bus_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NoosdProcess]:
    with running_scheduler(bus_address, tmp_path_factory.mktemp("scheduler")) as process:
        yield process


@pytest_asyncio.fixture
async def connection(
    scheduler_service: NoosdProcess, bus_address: str
) -> AsyncIterator[Connection]:
    async with await Connection.open(bus_address) as connection:
        yield connection


def _plain(accelerators: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(slot, {key: v.value for key, v in details.items()}) for slot, details in accelerators]


async def _served_on_the_cpu(connection: Connection) -> None:
    (job,) = await connection.call(
        NAME, PATH, NAME, "Submit", "a{sv}", [{"prompt": Variant("s", "The capital of France is")}]
    )
    (info,) = await connection.call(NAME, job, JOB, "Wait")

    assert info["state"].value == "done"
    assert info["text"].value
    models = await connection.get_property(NAME, PATH, NAME, "Models")
    # The test models declare no VRAM: on the CPU whatever the machine has.
    assert {name: details["gpu_layers"].value for name, details in models} == {
        "gemma": 0,
        "smollm2": 0,
    }


async def test_the_accelerators_are_those_pyudev_finds_here(connection: Connection) -> None:
    listed = await connection.get_property(NAME, PATH, NAME, "Accelerators")

    expected = [(a.device.slot, accelerator_details(a)) for a in discover()]
    assert _plain(listed) == _plain(expected)


async def test_a_job_is_served_on_the_cpu_here(connection: Connection) -> None:
    await _served_on_the_cpu(connection)


def test_the_log_says_why_each_accelerator_here_is_used_or_not(tmp_path: Path) -> None:
    # A scheduler of its own, on a bus of its own (the module's holds the
    # name), stopped to read its log.
    (tmp_path / "models.d").mkdir()
    bus = PrivateBus()
    try:
        process = start_scheduler(bus.address, tmp_path)
        assert process.terminate(30) == 0, process.stderr
    finally:
        bus.stop()

    for found in discover():
        assert describe(found) in process.stderr
    assert "models run on the CPU" in process.stderr or any(a.usable for a in discover())


@pytest.fixture
def emulated_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`noosd` seeing QEMU's std VGA, an NVIDIA GPU and a NIC; the state directory."""
    if shutil.which("unshare") is None or (
        subprocess.run(["unshare", "--mount", "--map-root-user", "true"], check=False).returncode
    ):
        pytest.skip("no mount namespaces here (unshare --mount --map-root-user)")
    sysfs = write_sysfs(tmp_path / "sys", [QEMU_VGA, NVIDIA_GPU, VIRTIO_NET])
    monkeypatch.setattr(noosd_process, "NOOSD", noosd_over(sysfs, tmp_path))
    write_catalog(tmp_path / "state/models.d")
    return tmp_path / "state"


async def test_an_emulated_vga_is_reported_with_why_it_has_no_compute_and_jobs_run_on_the_cpu(
    emulated_machine: Path,
) -> None:
    expected = [judged_here(QEMU_VGA), judged_here(NVIDIA_GPU)]
    bus = PrivateBus()
    try:
        process = start_scheduler(bus.address, emulated_machine)
        try:
            async with await Connection.open(bus.address) as connection:
                listed = _plain(await connection.get_property(NAME, PATH, NAME, "Accelerators"))
                await _served_on_the_cpu(connection)
        finally:
            assert process.terminate(30) == 0, process.stderr
    finally:
        bus.stop()

    assert listed == _plain([(a.device.slot, accelerator_details(a)) for a in expected])
    slot, vga = listed[0]
    assert slot == "0000:00:02.0"
    assert {key: vga[key] for key in ("vendor_id", "device_id", "class", "driver")} == {
        "vendor_id": "0x1234",
        "device_id": "0x1111",
        "class": "0x030000",
        "driver": "bochs-drm",
    }
    assert vga["drm_nodes"] == ["/dev/dri/card0"]
    assert not vga["usable"]
    assert vga["why"] == "an emulated display adapter (QEMU std VGA): no compute"
    for found in expected:
        assert describe(found) in process.stderr
    # The fake GPU is usable only on a machine with NVIDIA's nodes and a CUDA llama.cpp.
    if not any(found.usable for found in expected):
        assert "no usable accelerator: models run on the CPU" in process.stderr
