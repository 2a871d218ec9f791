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
    # A GPU in the guest: the host's, passed through with VFIO, or in test mode
    # an emulated display device in its place (see noos_qemu.gpu).
    gpu: bool = False


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("uefi", "UEFI firmware (OVMF) boots the disk, as bare metal does", "uefi"),
        Profile("direct", "direct kernel boot of the image's kernel and initrd", "direct"),
        Profile(
            "gpu",
            "UEFI boot with a host GPU's IOMMU group passed through (--gpu BDF), "
            "or an emulated display device in its place (--test-mode)",
            "uefi",
            memory="8G",
            cpus=4,
            gpu=True,
        ),
    )
}
