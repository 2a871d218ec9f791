"""Boot profiles: one declarative table drives the launcher's choices and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    # "uefi": OVMF runs systemd-boot from the disk's ESP, which starts the UKI,
    # as on bare metal. "direct": QEMU loads the kernel and initrd itself
    # (faster under TCG; the tests' default).
    firmware: str
    memory: str = "4G"
    cpus: int = 2


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("uefi", "UEFI firmware (OVMF) boots the disk, as bare metal does", "uefi"),
        Profile("direct", "direct kernel boot of the image's kernel and initrd", "direct"),
    )
}
