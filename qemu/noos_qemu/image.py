"""The artifacts of one mkosi build that QEMU boots."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BootImage:
    """`noos.raw` (GPT disk: ESP with systemd-boot and the UKI, root) and the
    kernel and initrd mkosi extracts from the UKI for direct kernel boot."""

    disk: Path
    kernel: Path
    initrd: Path
    uki: Path

    @classmethod
    def from_output(cls, directory: Path, name: str = "noos") -> BootImage:
        image = cls(
            disk=directory / f"{name}.raw",
            kernel=directory / f"{name}.vmlinuz",
            initrd=directory / f"{name}.initrd",
            uki=directory / f"{name}.efi",
        )
        missing = [
            str(p) for p in (image.disk, image.kernel, image.initrd, image.uki) if not p.exists()
        ]
        if missing:
            raise FileNotFoundError(
                f"no noos image in {directory} (run `make image`): missing {', '.join(missing)}"
            )
        return image

    def kernel_command_line(self) -> str:
        """The UKI's own command line, so that direct kernel boot boots exactly
        what UEFI boot does (the single source is mkosi.conf.d/10-boot.conf)."""
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "cmdline"
            subprocess.run(
                ["objcopy", "--dump-section", f".cmdline={out}", str(self.uki), str(out) + ".pe"],
                check=True,
            )
            return out.read_bytes().rstrip(b"\0\n ").decode()
