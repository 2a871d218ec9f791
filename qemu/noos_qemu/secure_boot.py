"""UEFI Secure Boot under QEMU: OVMF's Secure Boot build, and a variables
file with one certificate enrolled as PK, KEK and db (as systemd-boot's
auto-enrollment of mkosi's keys does on a machine), so that the firmware
starts what that certificate's key signed and refuses anything else.

OVMF's own EnrollDefaultKeys enrolls Microsoft's keys and Red Hat's, never
ours; virt-fw-vars (virt-firmware, Debian's python3-virt-firmware) writes
the variables file offline instead. The firmware's SMM (q35's `smm=on`,
and pflash writable only from SMM) keeps the guest from rewriting them.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from noos_qemu.profiles import OVMF_VARS

OVMF_SECURE_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")
# The owner GUID of the enrolled signature lists ("noos" and a fixed tail):
# firmware shows it beside the certificate; its value matters to no check.
OWNER = uuid.UUID("6e6f6f73-0000-4000-8000-5ecb00700001")
VIRT_FW_VARS = "virt-fw-vars"

# What QEMU adds for OVMF's Secure Boot build: SMM in the machine, and the
# variables' flash writable only from SMM.
MACHINE = "q35,smm=on"
SECURE_FLASH = ["-global", "driver=cfi.pflash01,property=secure,value=on"]


class EnrollError(Exception):
    """The variables file could not be written; the message says why."""


def enroll(certificate: Path, output: Path, template: Path = OVMF_VARS) -> Path:
    """Write `output`: OVMF's empty variables (`template`) with `certificate`
    (PEM) as PK, KEK and db, and Secure Boot on. Returns `output`."""
    if shutil.which(VIRT_FW_VARS) is None:
        raise EnrollError(
            f"no {VIRT_FW_VARS}: install python3-virt-firmware "
            "(bookworm-backports; `make setup` does)"
        )
    owner = str(OWNER)
    result = subprocess.run(
        [
            VIRT_FW_VARS,
            "--input", str(template),
            "--output", str(output),
            "--set-pk", owner, str(certificate),
            "--add-kek", owner, str(certificate),
            "--add-db", owner, str(certificate),
            "--secure-boot",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0 or not output.exists():
        said = (result.stderr or result.stdout).strip().splitlines()
        raise EnrollError(
            f"{VIRT_FW_VARS} could not enroll {certificate}: {said[-1] if said else 'no output'}"
        )
    return output
