"""Choose the accelerator: KVM where a Linux guest really boots under it, TCG
otherwise. /dev/kvm can exist and open while a Linux guest hangs under it (seen
on this project's build machines), so the test is a real boot: the image's own
kernel, without a root filesystem, must reach its "VFS: Unable to mount root"
panic within seconds. The verdict is cached per host kernel and QEMU binary."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

PROBE_TIMEOUT_S = 30.0


def cache_dir() -> Path:
    if explicit := os.environ.get("NOOS_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "noos"


def kvm_openable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def probe_kvm_boots(qemu: str, kernel: Path) -> bool:
    try:
        proc = subprocess.run(
            [
                qemu,
                "-accel",
                "kvm",
                "-cpu",
                "host",
                "-m",
                "256M",
                "-nodefaults",
                "-no-user-config",
                "-display",
                "none",
                "-no-reboot",
                "-serial",
                "stdio",
                "-kernel",
                str(kernel),
                "-append",
                "console=ttyS0 panic=-1",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return b"Unable to mount root" in proc.stdout or b"Kernel panic" in proc.stdout


def choose_accel(qemu: str, kernel: Path) -> str:
    """ "kvm" or "tcg"; NOOS_QEMU_ACCEL overrides the probe."""
    forced = os.environ.get("NOOS_QEMU_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    if not kvm_openable():
        return "tcg"
    qemu_path = shutil.which(qemu) or qemu
    key = hashlib.sha256(
        f"{platform.release()}|{qemu_path}|{Path(qemu_path).stat().st_mtime_ns}".encode()
    ).hexdigest()[:16]
    verdict = cache_dir() / "kvm-probe" / key
    if not verdict.exists():
        verdict.parent.mkdir(parents=True, exist_ok=True)
        verdict.write_text("kvm" if probe_kvm_boots(qemu, kernel) else "tcg")
    return verdict.read_text().strip()
