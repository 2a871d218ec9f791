"""Build the QEMU command line that boots the noos image."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from noos_qemu.accel import choose_accel
from noos_qemu.gpu.devices import Passthrough, emulated_display_args
from noos_qemu.image import BootImage
from noos_qemu.profiles import OVMF_CODE, OVMF_VARS, Profile
from noos_qemu.secure_boot import MACHINE as SECURE_MACHINE
from noos_qemu.secure_boot import OVMF_SECURE_CODE, SECURE_FLASH

QEMU = "qemu-system-x86_64"


@dataclass
class Launch:
    """What to boot and how; `command()` turns it into argv."""

    image: BootImage
    profile: Profile
    # Where the guest's serial console goes: ["mon:stdio"] for a person at a
    # terminal, a file for the test driver.
    serial: str = "mon:stdio"
    network: bool = True
    memory: str | None = None
    cpus: int | None = None
    extra: list[str] = field(default_factory=list)
    # The GPU profile's host functions; without them it runs in test mode, with
    # an emulated display device in their place.
    passthrough: Passthrough | None = None
    # Secure Boot enforced: OVMF's Secure Boot build starts from a copy of
    # these variables (noos_qemu.secure_boot.enroll writes them). UEFI only.
    secure_boot_vars: Path | None = None

    def command(self, workdir: Path) -> list[str]:
        if self.secure_boot_vars is not None and self.profile.firmware != "uefi":
            raise ValueError(f"Secure Boot needs UEFI firmware; {self.profile.name} has none")
        # VFIO needs KVM; the GPU checklist has already proved that it works.
        accel = "kvm" if self.passthrough is not None else choose_accel(QEMU, self.image.kernel)
        cpu = "host" if accel == "kvm" else "max"
        accel_arg = "kvm" if accel == "kvm" else "tcg,thread=multi"
        argv = [
            QEMU,
            "-machine",
            "q35" if self.secure_boot_vars is None else SECURE_MACHINE,
            "-accel",
            accel_arg,
            "-cpu",
            cpu,
            "-smp",
            str(self.cpus or self.profile.cpus),
            "-m",
            self.memory or self.profile.memory,
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-serial",
            self.serial,
            "-device",
            "virtio-rng-pci",
            # A throw-away snapshot: the image file itself is never written.
            "-drive",
            f"if=none,id=root,format=raw,snapshot=on,file={self.image.disk}",
            "-device",
            "virtio-blk-pci,drive=root,bootindex=1",
            "-nic",
            "user,model=virtio-net-pci" if self.network else "none",
        ]
        if self.profile.firmware == "uefi":
            code, template = OVMF_CODE, OVMF_VARS
            if self.secure_boot_vars is not None:
                code, template = OVMF_SECURE_CODE, self.secure_boot_vars
                argv += SECURE_FLASH
            variables = workdir / "OVMF_VARS.fd"
            shutil.copyfile(template, variables)
            argv += [
                "-drive",
                f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
                "-drive",
                f"if=pflash,format=raw,unit=1,file={variables}",
            ]
        else:
            argv += [
                "-kernel",
                str(self.image.kernel),
                "-initrd",
                str(self.image.initrd),
                "-append",
                self.image.kernel_command_line(),
            ]
        if self.passthrough is not None:
            argv += self.passthrough.qemu_args()
        elif self.profile.gpu:
            argv += emulated_display_args()
        return argv + self.extra
