"""Move functions to vfio-pci for the VM's lifetime, and back to their host
drivers afterwards, through the kernel's `driver_override`:

    bind:    echo vfio-pci > devices/<BDF>/driver_override
             echo <BDF> > drivers/<host driver>/unbind
             echo <BDF> > drivers_probe          (vfio-pci takes it: the override)
    restore: echo > devices/<BDF>/driver_override
             echo <BDF> > drivers/vfio-pci/unbind
             echo <BDF> > drivers_probe          (the host driver takes it back)

All writes go through `write`, so that tests can record them against a tree."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from noos_qemu.gpu.check import Check, missing, ok
from noos_qemu.gpu.group_checks import VFIO_DRIVER
from noos_qemu.gpu.pci import Host, PciFunction, read_function

Write = Callable[[Path, str], None]


def write_attribute(path: Path, value: str) -> None:
    """One write(2), as `echo value > path` does; without O_CREAT, so a wrong path
    fails here instead of leaving a stray file in a test tree."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


class BindError(RuntimeError):
    """A sysfs write failed; the message names the file and the cause."""


def check_can_bind(host: Host, functions: Sequence[PciFunction]) -> list[Check]:
    driver = host.path(f"/sys/bus/pci/drivers/{VFIO_DRIVER}")
    checks = [
        ok(f"{VFIO_DRIVER} driver loaded", host.shown(driver))
        if driver.is_dir()
        else missing(
            f"{VFIO_DRIVER} driver loaded",
            f"{host.shown(driver)} does not exist; load it: sudo modprobe {VFIO_DRIVER}",
        )
    ]
    for function in functions:
        override = host.device_dir(function.bdf) / "driver_override"
        if not writable(override):
            checks.append(
                missing(
                    f"{function.bdf} rebindable",
                    f"{host.shown(override)} is not writable by this user; --bind needs root "
                    "(sudo)",
                )
            )
    return checks


def _write(host: Host, write: Write, absolute: str, value: str) -> None:
    path = host.path(absolute)
    try:
        write(path, value)
    except OSError as error:
        raise BindError(f"writing {value.strip()!r} to {absolute}: {error.strerror}") from error


def bind_function(host: Host, function: PciFunction, write: Write) -> None:
    device = f"/sys/bus/pci/devices/{function.bdf}"
    _write(host, write, f"{device}/driver_override", VFIO_DRIVER)
    if function.driver is not None:
        _write(host, write, f"/sys/bus/pci/drivers/{function.driver}/unbind", function.bdf)
    _write(host, write, "/sys/bus/pci/drivers_probe", function.bdf)


def restore_function(host: Host, bdf: str, write: Write) -> None:
    _write(host, write, f"/sys/bus/pci/devices/{bdf}/driver_override", "\n")
    # A bind that failed half-way may have left the function without vfio-pci.
    if read_function(host, bdf).driver == VFIO_DRIVER:
        _write(host, write, f"/sys/bus/pci/drivers/{VFIO_DRIVER}/unbind", bdf)
    _write(host, write, "/sys/bus/pci/drivers_probe", bdf)


def restore_all(host: Host, bdfs: Sequence[str], write: Write) -> list[str]:
    """Restore every function, the last moved first; a failure does not stop
    the others. Returns the failures' messages."""
    failures = []
    for bdf in reversed(bdfs):
        try:
            restore_function(host, bdf, write)
        except BindError as error:
            failures.append(str(error))
    return failures


@contextmanager
def bound_to_vfio(
    host: Host,
    functions: Sequence[PciFunction],
    write: Write,
    report: Callable[[str], None],
) -> Iterator[None]:
    """Bind `functions` to vfio-pci for the `with` block; restore on the way out,
    also when binding fails half-way (BindError propagates after the restore)."""
    touched: list[str] = []
    try:
        for function in functions:
            touched.append(function.bdf)
            bind_function(host, function, write)
            report(f"noos-qemu: {function.bdf}: {function.driver or 'no driver'} -> {VFIO_DRIVER}")
        yield
    finally:
        for failure in restore_all(host, touched, write):
            report(f"noos-qemu: restoring the host driver failed: {failure}")
        for bdf in reversed(touched):
            report(f"noos-qemu: {bdf}: back to {read_function(host, bdf).driver or 'no driver'}")
