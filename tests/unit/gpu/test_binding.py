"""--bind: what is written where to move the GPU's functions to vfio-pci and
back, and the run around it, against copies of the recorded trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from noos_qemu.gpu import binding
from noos_qemu.gpu.binding import BindError, bound_to_vfio, restore_all, write_attribute
from noos_qemu.gpu.check import SKIP_EXIT_CODE
from noos_qemu.gpu.devices import Passthrough
from noos_qemu.gpu.pci import Host, PciFunction, read_function
from noos_qemu.gpu.session import run_passthrough
from tests.unit.gpu.conftest import CopyTree, FakeKernel, request

GPU = "0000:01:00.0"
AUDIO = "0000:01:00.1"
BIND_WRITES = [
    (f"/sys/bus/pci/devices/{GPU}/driver_override", "vfio-pci"),
    ("/sys/bus/pci/drivers/nvidia/unbind", GPU),
    ("/sys/bus/pci/drivers_probe", GPU),
    (f"/sys/bus/pci/devices/{AUDIO}/driver_override", "vfio-pci"),
    ("/sys/bus/pci/drivers/snd_hda_intel/unbind", AUDIO),
    ("/sys/bus/pci/drivers_probe", AUDIO),
]
RESTORE_WRITES = [
    (f"/sys/bus/pci/devices/{AUDIO}/driver_override", "\n"),
    ("/sys/bus/pci/drivers/vfio-pci/unbind", AUDIO),
    ("/sys/bus/pci/drivers_probe", AUDIO),
    (f"/sys/bus/pci/devices/{GPU}/driver_override", "\n"),
    ("/sys/bus/pci/drivers/vfio-pci/unbind", GPU),
    ("/sys/bus/pci/drivers_probe", GPU),
]


def drivers(host: Host) -> dict[str, str | None]:
    return {bdf: read_function(host, bdf).driver for bdf in (GPU, AUDIO)}


def gpu_functions(host: Host) -> list[PciFunction]:
    return [read_function(host, GPU), read_function(host, AUDIO)]


@pytest.fixture
def host(copy_tree: CopyTree) -> Host:
    """The Intel desktop with its GPU on nvidia, run as root (as --bind must be)."""
    host = copy_tree("gpu-with-audio")
    status = host.path("/proc/self/status")
    status.write_text(
        status.read_text().replace("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff")
    )
    return host


def test_binding_writes_the_override_unbinds_and_probes_then_restores_in_reverse(
    host: Host,
) -> None:
    kernel = FakeKernel(host)
    with bound_to_vfio(host, gpu_functions(host), kernel, report=lambda line: None):
        assert kernel.writes == BIND_WRITES
        assert drivers(host) == {GPU: "vfio-pci", AUDIO: "vfio-pci"}
        kernel.writes.clear()
    assert kernel.writes == RESTORE_WRITES
    assert drivers(host) == {GPU: "nvidia", AUDIO: "snd_hda_intel"}


def test_the_writes_land_in_the_files_the_kernel_reads(host: Host) -> None:
    """Plain files stand in for sysfs attributes: each holds its last write."""
    with bound_to_vfio(host, gpu_functions(host), write_attribute, report=lambda line: None):
        override = host.device_dir(GPU) / "driver_override"
        assert override.read_text() == "vfio-pci"
        assert host.path("/sys/bus/pci/drivers/nvidia/unbind").read_text() == GPU
        assert host.path("/sys/bus/pci/drivers_probe").read_text() == AUDIO
    assert override.read_text() == "\n"


def test_a_bind_that_fails_half_way_restores_what_it_touched(host: Host) -> None:
    kernel = FakeKernel(host)
    (host.path("/sys/bus/pci/drivers/snd_hda_intel/unbind")).unlink()
    with (
        pytest.raises(
            BindError, match=r"writing '0000:01:00\.1' to /sys/bus/pci/drivers/snd_hda_intel/unbind"
        ),
        bound_to_vfio(host, gpu_functions(host), kernel, report=lambda line: None),
    ):
        raise AssertionError("the block ran with a half-bound group")
    assert kernel.writes[len(BIND_WRITES) - 2 :] == [
        # The audio function never left snd_hda_intel: only its override is cleared.
        (f"/sys/bus/pci/devices/{AUDIO}/driver_override", "\n"),
        ("/sys/bus/pci/drivers_probe", AUDIO),
        *RESTORE_WRITES[3:],
    ]
    assert drivers(host) == {GPU: "nvidia", AUDIO: "snd_hda_intel"}


def test_a_failed_restore_does_not_stop_the_others(host: Host) -> None:
    kernel = FakeKernel(host)
    with bound_to_vfio(host, gpu_functions(host), kernel, report=lambda line: None):
        host.path(f"/sys/bus/pci/devices/{AUDIO}/driver_override").unlink()
        failures = restore_all(host, [GPU, AUDIO], kernel)
        assert failures == [
            f"writing '' to /sys/bus/pci/devices/{AUDIO}/driver_override: No such file or directory"
        ]
        assert drivers(host)[GPU] == "nvidia"
        host.path(f"/sys/bus/pci/devices/{AUDIO}/driver_override").write_text("")


def test_a_run_with_bind_boots_with_the_group_on_vfio_and_restores_after(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    kernel = FakeKernel(host)
    booted: list[Passthrough] = []

    def boot(passthrough: Passthrough) -> int:
        assert drivers(host) == {GPU: "vfio-pci", AUDIO: "vfio-pci"}
        booted.append(passthrough)
        return 0

    code = run_passthrough(host, request(bind=True), lambda: True, boot, write=kernel)
    assert code == 0
    assert [f.bdf for f in booted[0].functions] == [GPU, AUDIO]
    assert kernel.writes == BIND_WRITES + RESTORE_WRITES
    assert drivers(host) == {GPU: "nvidia", AUDIO: "snd_hda_intel"}
    err = capsys.readouterr().err
    assert f"noos-qemu: {GPU}: nvidia -> vfio-pci" in err
    assert "[ok] /dev/vfio/1 accessible (/dev/vfio/vfio, /dev/vfio/1)" in err
    assert f"noos-qemu: {GPU}: back to nvidia" in err


def test_the_host_drivers_come_back_when_qemu_fails(host: Host) -> None:
    kernel = FakeKernel(host)

    def boot(passthrough: Passthrough) -> int:
        raise OSError("qemu-system-x86_64: not found")

    with pytest.raises(OSError, match="not found"):
        run_passthrough(host, request(bind=True), lambda: True, boot, write=kernel)
    assert drivers(host) == {GPU: "nvidia", AUDIO: "snd_hda_intel"}


def test_a_bind_the_kernel_does_not_honour_skips_before_qemu(
    host: Host, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain writes move nothing: after them the checks still see nvidia."""
    written: list[tuple[Path, str]] = []

    def record(path: Path, value: str) -> None:
        written.append((path, value))

    def boot(passthrough: Passthrough) -> int:
        raise AssertionError("QEMU started on a group not bound to vfio-pci")

    assert run_passthrough(host, request(bind=True), lambda: True, boot, write=record) == 77
    err = capsys.readouterr().err
    assert "[missing] 0000:01:00.0 (10de:2204 VGA compatible controller) bound to vfio-pci" in err
    assert "[missing] /dev/vfio/1 accessible" in err
    # Restored anyway; neither function reached vfio-pci, so nothing unbinds from it.
    assert [(str(path).split("gpu-with-audio")[1], value) for path, value in written[6:]] == [
        entry for entry in RESTORE_WRITES if "vfio-pci/unbind" not in entry[0]
    ]


def test_a_host_that_is_not_ready_writes_nothing_and_skips(
    copy_tree: CopyTree, capsys: pytest.CaptureFixture[str]
) -> None:
    host = copy_tree("no-iommu")
    kernel = FakeKernel(host)

    def boot(passthrough: Passthrough) -> int:
        raise AssertionError("QEMU started without an IOMMU")

    code = run_passthrough(host, request(bind=True), lambda: True, boot, write=kernel)
    assert code == SKIP_EXIT_CODE
    assert kernel.writes == []
    assert "nothing was started (exit 77: skipped)" in capsys.readouterr().err


def test_binding_needs_a_writable_driver_override(
    host: Host, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The tests may run as root, for whom every file is writable.
    monkeypatch.setattr(binding, "writable", lambda path: False)
    kernel = FakeKernel(host)
    code = run_passthrough(host, request(bind=True), lambda: True, lambda p: 0, write=kernel)
    assert code == SKIP_EXIT_CODE
    assert (
        f"[missing] {GPU} rebindable: /sys/bus/pci/devices/{GPU}/driver_override is not"
        " writable by this user; --bind needs root (sudo)" in capsys.readouterr().err
    )
    assert kernel.writes == []
