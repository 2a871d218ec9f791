"""The recorded host trees (tests/fixtures/sysfs) and a stand-in for the
kernel's side of sysfs writes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from noos_qemu.gpu.binding import write_attribute
from noos_qemu.gpu.pci import Host, read_function
from noos_qemu.gpu.session import GpuRequest
from noos_qemu.profiles import OVMF_CODE, OVMF_VARS

TREES = Path(__file__).resolve().parents[2] / "fixtures" / "sysfs"
GIB = 1 << 30


def recorded(name: str) -> Host:
    """A recorded tree, read in place: only for code that writes nothing."""
    return Host(TREES / name)


CopyTree = Callable[[str], Host]


@pytest.fixture
def copy_tree(tmp_path: Path) -> CopyTree:
    """Private copies of recorded trees, links kept, for tests that change them."""

    def copy(name: str) -> Host:
        root = tmp_path / name
        shutil.copytree(TREES / name, root, symlinks=True)
        return Host(root)

    return copy


def request(bdf: str = "0000:01:00.0", *, memory: int = 8 * GIB, bind: bool = False) -> GpuRequest:
    return GpuRequest(bdf=bdf, memory=memory, bind=bind, firmware=(OVMF_CODE, OVMF_VARS))


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


class FakeKernel:
    """Records each sysfs write as (host path, value) and answers it as the
    kernel would: `unbind` drops the driver link, `drivers_probe` binds the
    function to its override, or else back to the driver it had at the start,
    and vfio-pci's arrival creates /dev/vfio/<group>."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.writes: list[tuple[str, str]] = []
        devices = host.path("/sys/bus/pci/devices")
        self.first_driver = {
            entry.name: read_function(host, entry.name).driver for entry in devices.iterdir()
        }

    def __call__(self, path: Path, value: str) -> None:
        write_attribute(path, value)
        shown = self.host.shown(path)
        self.writes.append((shown, value))
        if shown.endswith("/unbind"):
            (self.host.device_dir(value) / "driver").unlink()
        elif shown == "/sys/bus/pci/drivers_probe":
            self._probe(value)

    def _probe(self, bdf: str) -> None:
        device = self.host.device_dir(bdf)
        override = (device / "driver_override").read_text().strip()
        driver = override or self.first_driver[bdf]
        if driver is None:
            return
        (device / "driver").symlink_to(self.host.path(f"/sys/bus/pci/drivers/{driver}"))
        if driver == "vfio-pci":
            group = (device / "iommu_group").readlink().name
            self.host.path(f"/dev/vfio/{group}").touch()
