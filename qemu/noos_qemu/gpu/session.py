"""A GPU run: the host checklist, then (when asked) the binding, then QEMU.
Whatever is missing stops the run before QEMU starts, with SKIP_EXIT_CODE."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from noos_qemu.gpu.binding import BindError, Write, bound_to_vfio, check_can_bind, write_attribute
from noos_qemu.gpu.check import SKIP_EXIT_CODE, Check, Status, all_ok, missing, render
from noos_qemu.gpu.devices import Passthrough
from noos_qemu.gpu.group_checks import IommuGroup, check_functions, find_gpu, find_group
from noos_qemu.gpu.host_checks import check_iommu, check_kvm, check_ovmf, check_vfio_group_node
from noos_qemu.gpu.memory_checks import (
    check_hugepages,
    check_locked_memory,
    check_memory,
    read_meminfo,
)
from noos_qemu.gpu.pci import Host


@dataclass(frozen=True)
class GpuRequest:
    bdf: str
    memory: int
    # Move the GPU's functions to vfio-pci for the run, and back afterwards.
    bind: bool
    firmware: tuple[Path, ...]


@dataclass(frozen=True)
class Readiness:
    checks: list[Check]
    group: IommuGroup | None
    hugepages: bool

    @property
    def ready(self) -> bool:
        return self.group is not None and all_ok(self.checks)

    def passthrough(self) -> Passthrough:
        assert self.group is not None
        return Passthrough(self.group.endpoints, self.hugepages)


def device_checks(
    host: Host, request: GpuRequest, iommu_on: bool
) -> tuple[list[Check], IommuGroup | None]:
    """The GPU, its group, each function's driver and the group's /dev/vfio node."""
    gpu_check, gpu = find_gpu(host, request.bdf)
    # Without an IOMMU there is no group to look at: the IOMMU line says why.
    if gpu is None or not iommu_on:
        return [gpu_check], None
    group_check, group = find_group(host, gpu)
    if group is None:
        return [gpu_check, group_check], None
    checks = [gpu_check, group_check, *check_functions(host, group, request.bind)]
    if request.bind:
        checks += check_can_bind(host, group.to_bind())
    # What --bind will move has no node yet: it is checked after the binding.
    if not (request.bind and group.to_bind()):
        checks.append(check_vfio_group_node(host, group.number))
    return checks, group


def memory_checks(host: Host, guest: int) -> tuple[list[Check], bool]:
    """The memory checks, and whether hugepages back the guest."""
    meminfo = read_meminfo(host)
    hugepages = check_hugepages(host, meminfo, guest)
    from_hugepages = hugepages.status is Status.OK
    checks = [
        check_memory(meminfo, guest, from_hugepages),
        hugepages,
        check_locked_memory(host, guest),
    ]
    return checks, from_hugepages


def assess(host: Host, request: GpuRequest, kvm_boots: Callable[[], bool]) -> Readiness:
    kvm = check_kvm(host, kvm_boots)
    iommu = check_iommu(host)
    devices, group = device_checks(host, request, iommu.status is Status.OK)
    memory, hugepages = memory_checks(host, request.memory)
    checks = [kvm, iommu, *devices, check_ovmf(host, request.firmware), *memory]
    return Readiness(checks, group, hugepages)


def not_ready(checks: list[Check]) -> int:
    print(render(checks), file=sys.stderr)
    print(
        f"noos-qemu: the host is not ready for GPU passthrough; nothing was started "
        f"(exit {SKIP_EXIT_CODE}: skipped)",
        file=sys.stderr,
    )
    return SKIP_EXIT_CODE


def run_passthrough(
    host: Host,
    request: GpuRequest,
    kvm_boots: Callable[[], bool],
    boot: Callable[[Passthrough], int],
    *,
    dry_run: bool = False,
    write: Write = write_attribute,
) -> int:
    """Check, bind, boot, restore. `dry_run` (--print) checks and boots
    (which then only prints), binding nothing."""
    readiness = assess(host, request, kvm_boots)
    if not readiness.ready:
        return not_ready(readiness.checks)
    print(render(readiness.checks), file=sys.stderr)
    assert readiness.group is not None
    group = readiness.group
    if dry_run or not request.bind:
        return boot(readiness.passthrough())

    def report(line: str) -> None:
        print(line, file=sys.stderr)

    try:
        with bound_to_vfio(host, group.to_bind(), write, report):
            rebound = check_functions(host, group.reread(host), bind=False)
            rebound.append(check_vfio_group_node(host, group.number))
            if not all_ok(rebound):
                return not_ready(rebound)
            print(render(rebound), file=sys.stderr)
            return boot(readiness.passthrough())
    except BindError as error:
        return not_ready([missing("binding to vfio-pci", str(error))])
