"""The host checklist on each recorded tree: what passes, and each precise failure."""

from __future__ import annotations

import pytest

from noos_qemu.gpu import host_checks
from noos_qemu.gpu.check import Status, render
from noos_qemu.gpu.memory_checks import parse_size
from noos_qemu.gpu.pci import parse_bdf
from noos_qemu.gpu.session import assess
from tests.unit.gpu.conftest import GIB, CopyTree, lines, recorded, request


def kvm_works() -> bool:
    return True


def checklist(host_name: str, bdf: str = "0000:01:00.0", *, bind: bool = False) -> list[str]:
    return lines(render(assess(recorded(host_name), request(bdf, bind=bind), kvm_works).checks))


def test_a_gpu_bound_to_vfio_with_hugepages_passes_every_check() -> None:
    readiness = assess(recorded("gpu-with-audio-vfio"), request(), kvm_works)
    assert lines(render(readiness.checks)) == [
        "[ok] KVM usable (/dev/kvm)",
        "[ok] IOMMU enabled (5 groups under /sys/kernel/iommu_groups)",
        "[ok] GPU 0000:01:00.0 present (10de:2204 VGA compatible controller,"
        " /sys/bus/pci/devices/0000:01:00.0)",
        "[ok] IOMMU group 1 (0000:00:01.0, 0000:01:00.0, 0000:01:00.1)",
        "[ok] 0000:00:01.0 (8086:1901 PCI bridge) stays with pcieport"
        " (a bridge: VFIO allows it in the group, and it is not passed through)",
        "[ok] 0000:01:00.0 (10de:2204 VGA compatible controller) bound to vfio-pci"
        " (/sys/bus/pci/devices/0000:01:00.0/driver)",
        "[ok] 0000:01:00.1 (10de:1aef audio device) bound to vfio-pci"
        " (/sys/bus/pci/devices/0000:01:00.1/driver)",
        "[ok] /dev/vfio/1 accessible (/dev/vfio/vfio, /dev/vfio/1)",
        "[ok] OVMF present (/usr/share/OVMF/OVMF_CODE_4M.fd, /usr/share/OVMF/OVMF_VARS_4M.fd)",
        "[ok] guest memory 8.0 GiB (from the hugepage pool)",
        "[ok] hugepages (8.0 GiB of 16.0 GiB free, from /dev/hugepages)",
        "[ok] locked-memory limit (CAP_IPC_LOCK, /proc/self/status)",
    ]
    assert readiness.ready
    passthrough = readiness.passthrough()
    assert [function.bdf for function in passthrough.functions] == ["0000:01:00.0", "0000:01:00.1"]
    assert passthrough.hugepages


def test_functions_on_their_host_drivers_are_missing_with_the_commands_that_fix_them() -> None:
    result = checklist("gpu-with-audio")
    missing = [line for line in result if line.startswith("[missing]")]
    assert missing == [
        "[missing] 0000:01:00.0 (10de:2204 VGA compatible controller) bound to vfio-pci:"
        " it is bound to nvidia; rerun with --bind, or by hand as root:"
        " echo vfio-pci > /sys/bus/pci/devices/0000:01:00.0/driver_override;"
        " echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind;"
        " echo 0000:01:00.0 > /sys/bus/pci/drivers_probe",
        "[missing] 0000:01:00.1 (10de:1aef audio device) bound to vfio-pci:"
        " it is bound to snd_hda_intel; rerun with --bind, or by hand as root:"
        " echo vfio-pci > /sys/bus/pci/devices/0000:01:00.1/driver_override;"
        " echo 0000:01:00.1 > /sys/bus/pci/devices/0000:01:00.1/driver/unbind;"
        " echo 0000:01:00.1 > /sys/bus/pci/drivers_probe",
        "[missing] /dev/vfio/1 accessible: /dev/vfio/1 does not exist; it appears once every"
        " endpoint of IOMMU group 1 is bound to vfio-pci",
        "[missing] locked-memory limit: 8 MiB (/proc/self/limits), but VFIO locks all 8.0 GiB"
        " of guest memory; run as root, or raise it: ulimit -l unlimited (permanently:"
        " '<user> hard memlock unlimited' in /etc/security/limits.conf)",
    ]
    assert "[note] hugepages: none configured (optional); the guest gets ordinary pages" in result
    assert "[ok] guest memory 8.0 GiB (27.8 GiB available, /proc/meminfo MemAvailable)" in result


def test_with_bind_the_gpus_functions_are_to_be_moved_and_the_node_waits_for_it() -> None:
    result = checklist("gpu-with-audio", bind=True)
    assert (
        "[ok] 0000:01:00.0 (10de:2204 VGA compatible controller) moved to vfio-pci by --bind"
        " (now nvidia; back to it when QEMU exits)" in result
    )
    assert (
        "[ok] 0000:01:00.1 (10de:1aef audio device) moved to vfio-pci by --bind"
        " (now snd_hda_intel; back to it when QEMU exits)" in result
    )
    assert "[ok] vfio-pci driver loaded (/sys/bus/pci/drivers/vfio-pci)" in result
    assert not any("/dev/vfio/1" in line for line in result)


def test_another_device_in_the_gpus_group_is_missing_and_never_bound_for_the_user() -> None:
    result = checklist("gpu-group-with-usb", "0000:07:00.0", bind=True)
    missing = [line for line in result if line.startswith("[missing]")]
    assert missing == [
        f"[missing] {device} bound to vfio-pci: it shares IOMMU group 13 with the GPU but is"
        f" not one of its functions, and is bound to {driver}; VFIO passes whole groups: bind"
        " it to vfio-pci yourself if the host can spare it (--bind moves only the GPU's own"
        " functions), or move the GPU to a slot with an IOMMU group of its own (ACS)"
        for device, driver in [
            ("0000:02:00.0 (1022:43d5 USB controller)", "xhci_hcd"),
            ("0000:02:00.1 (1022:43c8 SATA controller)", "ahci"),
        ]
    ] + [
        "[missing] /dev/vfio/13 accessible: /dev/vfio/13 does not exist; it appears once every"
        " endpoint of IOMMU group 13 is bound to vfio-pci"
    ]
    assert (
        "[ok] IOMMU group 13 (0000:00:01.2, 0000:02:00.0, 0000:02:00.1, 0000:02:00.2,"
        " 0000:03:04.0, 0000:07:00.0, 0000:07:00.1)" in result
    )


def test_every_endpoint_of_the_group_is_passed_through_and_no_bridge() -> None:
    readiness = assess(recorded("gpu-group-with-usb"), request("0000:07:00.0"), kvm_works)
    assert readiness.group is not None
    assert [f.bdf for f in readiness.group.endpoints] == [
        "0000:02:00.0",
        "0000:02:00.1",
        "0000:07:00.0",
        "0000:07:00.1",
    ]
    assert readiness.group.to_bind() == ()


def test_without_an_iommu_the_checklist_says_how_to_turn_it_on() -> None:
    readiness = assess(recorded("no-iommu"), request(), kvm_works)
    assert not readiness.ready
    result = lines(render(readiness.checks))
    assert (
        "[missing] IOMMU enabled: IOMMU is off: /sys/kernel/iommu_groups is empty; enable VT-d"
        " (or AMD-Vi) in the firmware setup and boot the host with intel_iommu=on"
        " (or amd_iommu=on) iommu=pt" in result
    )
    assert not any("IOMMU group" in line or "bound to" in line for line in result)


def test_no_kvm_device_is_missing_and_the_probe_is_not_run(copy_tree: CopyTree) -> None:
    host = copy_tree("gpu-with-audio-vfio")
    host.path("/dev/kvm").unlink()

    def probe() -> bool:
        raise AssertionError("probed a missing /dev/kvm")

    check = assess(host, request(), probe).checks[0]
    assert check.line() == (
        "[missing] KVM usable: /dev/kvm does not exist; enable virtualization (VT-x or AMD-V)"
        " in the firmware setup and load the kvm_intel or kvm_amd module"
    )


def test_a_kvm_device_the_user_cannot_open_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tests may run as root, for whom every file is readable and writable.
    monkeypatch.setattr(host_checks, "read_writable", lambda path: path.name != "kvm")
    check = assess(recorded("gpu-with-audio-vfio"), request(), kvm_works).checks[0]
    assert check.line() == (
        "[missing] KVM usable: /dev/kvm is not readable and writable by this user; add the user"
        " to the kvm group (sudo usermod -aG kvm $USER) and log in again"
    )


def test_a_kvm_where_guests_do_not_boot_is_missing() -> None:
    check = assess(recorded("gpu-with-audio-vfio"), request(), lambda: False).checks[0]
    assert check.status is Status.MISSING
    assert "a Linux guest does not boot under KVM on this host" in check.detail


def test_a_vfio_node_the_user_cannot_open_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_checks, "read_writable", lambda path: path.name != "1")
    result = checklist("gpu-with-audio-vfio")
    assert (
        "[missing] /dev/vfio/1 accessible: /dev/vfio/1 not readable and writable by this user;"
        " run as root, or sudo chown $USER /dev/vfio/1" in result
    )


@pytest.mark.parametrize(
    ("bdf", "expected"),
    [
        (
            "0000:0a:00.0",
            "[missing] GPU 0000:0a:00.0 present: no PCI device 0000:0a:00.0"
            " (/sys/bus/pci/devices/0000:0a:00.0 does not exist); list the display devices"
            " with lspci -D -d ::03xx",
        ),
        (
            "0000:00:14.0",
            "[missing] GPU 0000:00:14.0 present: 0000:00:14.0 (8086:a36d USB controller)"
            " is not a display controller (PCI class 03xx)",
        ),
    ],
)
def test_an_address_that_is_no_gpu_is_missing(bdf: str, expected: str) -> None:
    result = checklist("gpu-with-audio-vfio", bdf)
    assert expected in result
    assert not any("IOMMU group" in line for line in result)


def test_missing_firmware_names_the_file_and_the_package(copy_tree: CopyTree) -> None:
    host = copy_tree("gpu-with-audio-vfio")
    host.path("/usr/share/OVMF/OVMF_VARS_4M.fd").unlink()
    result = lines(render(assess(host, request(), kvm_works).checks))
    assert (
        "[missing] OVMF present: /usr/share/OVMF/OVMF_VARS_4M.fd not found; install the UEFI"
        " firmware: sudo apt install ovmf" in result
    )


def test_a_guest_larger_than_available_memory_is_missing() -> None:
    readiness = assess(recorded("gpu-with-audio"), request(memory=30 * GIB), kvm_works)
    assert (
        "[missing] guest memory 30.0 GiB: only 27.8 GiB available (/proc/meminfo"
        " MemAvailable), and VFIO pins all guest memory; pass a smaller --memory or free memory"
        in lines(render(readiness.checks))
    )


def test_too_few_free_hugepages_fall_back_to_ordinary_pages() -> None:
    readiness = assess(recorded("gpu-with-audio-vfio"), request(memory=20 * GIB), kvm_works)
    result = lines(render(readiness.checks))
    assert (
        "[note] hugepages: 16.0 GiB free of 8192 x 2048 kB pages, less than the guest's"
        " 20.0 GiB; the guest gets ordinary pages (raise /proc/sys/vm/nr_hugepages)" in result
    )
    # 11.4 GiB available without the pool: the fallback must fit too.
    assert any(line.startswith("[missing] guest memory 20.0 GiB") for line in result)
    assert not readiness.hugepages


def test_hugepages_without_a_hugetlbfs_mount_fall_back(copy_tree: CopyTree) -> None:
    host = copy_tree("gpu-with-audio-vfio")
    mounts = host.path("/proc/mounts")
    mounts.write_text(mounts.read_text().replace("hugetlbfs /dev/hugepages", "tmpfs /dev/shm"))
    readiness = assess(host, request(), kvm_works)
    assert not readiness.hugepages
    assert (
        "[note] hugepages: /dev/hugepages is not a hugetlbfs mount (/proc/mounts); the guest"
        " gets ordinary pages" in lines(render(readiness.checks))
    )


def test_an_unlimited_locked_memory_limit_passes() -> None:
    assert "[ok] locked-memory limit (unlimited, /proc/self/limits)" in checklist(
        "gpu-group-with-usb", "0000:07:00.0"
    )


@pytest.mark.parametrize(
    ("text", "bdf"),
    [
        ("0000:01:00.0", "0000:01:00.0"),
        ("01:00.1", "0000:01:00.1"),
        ("0000:0A:00.0", "0000:0a:00.0"),
    ],
)
def test_pci_addresses_are_read_in_canonical_form(text: str, bdf: str) -> None:
    assert parse_bdf(text) == bdf


@pytest.mark.parametrize("text", ["1:00.0", "0000:01:00.8", "gpu", "0000:01:00"])
def test_malformed_pci_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a PCI address"):
        parse_bdf(text)


@pytest.mark.parametrize(
    ("text", "size"), [("8G", 8 * GIB), ("4096M", 4 * GIB), ("512", 512 << 20), ("1t", 1 << 40)]
)
def test_memory_sizes_are_read_as_qemu_reads_them(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_checklist_tree_path_is_shown_as_on_the_host() -> None:
    host = recorded("no-iommu")
    assert host.shown(host.path("/sys/kernel/iommu_groups")) == "/sys/kernel/iommu_groups"


def test_a_gpu_outside_every_group_is_missing(copy_tree: CopyTree) -> None:
    host = copy_tree("gpu-with-audio-vfio")
    (host.device_dir("0000:01:00.0") / "iommu_group").unlink()
    readiness = assess(host, request(), kvm_works)
    assert readiness.group is None
    assert (
        "[missing] IOMMU group: /sys/bus/pci/devices/0000:01:00.0/iommu_group does not exist:"
        " no IOMMU translates for 0000:01:00.0" in lines(render(readiness.checks))
    )
