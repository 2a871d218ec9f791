"""Secure Boot under OVMF, enforced (`noos_qemu.secure_boot`): the test
image, which the Makefile signs with a throwaway pair (build/keys/), boots
with that certificate enrolled as PK, KEK and db; the firmware refuses the
default image, which is unsigned, and a signed systemd-boot refuses an
unsigned UKI. docs/image.md#secure-boot."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from noos_image import repro
from noos_qemu import BootImage, Machine
from noos_qemu.secure_boot import enroll

from .conftest import LOG_ROOT, REPO

pytestmark = pytest.mark.e2e

# The Makefile's throwaway pair for the test image (TEST_CERT).
TEST_CERT = REPO / "build/keys/noos-test.crt"
DEFAULT_IMAGE_DIR = REPO / "build/image"
# The firmware's SecureBoot variable: its last byte is 1 when Secure Boot is on.
SECURE_BOOT_VARIABLE = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
# What OVMF (BdsDxe: "Access Denied", "Security Violation") and systemd-boot
# ("Error loading ...: Access denied") print when an image's signature fails.
REFUSED = r"(?i)(access denied|security violation)"
# What the kernel's EFI stub and the kernel print first: never after a refusal.
KERNEL_STARTED = (b"EFI stub:", b"Linux version")
# A refusal shows within a minute or two under TCG; the rest is slack.
REFUSAL_TIMEOUT_S = 600.0
# The probe disk: an ESP holding a signed systemd-boot and an unsigned UKI.
PROBE_ESP_MIB = 256


@pytest.fixture(scope="module")
def enrolled_vars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OVMF variables with the test image's certificate enrolled, Secure Boot on."""
    if not TEST_CERT.exists():
        pytest.fail(f"no {TEST_CERT}: `make image-test` makes the pair and signs the test image")
    return enroll(TEST_CERT, tmp_path_factory.mktemp("secure-boot") / "OVMF_VARS.fd")


def signed_by_test_key(path: Path) -> bool:
    result = subprocess.run(
        ["sbverify", "--cert", str(TEST_CERT), str(path)], capture_output=True, check=False
    )
    return result.returncode == 0


def esp_file(disk: Path, name: str, output: Path) -> Path:
    """Copy `name` (a path in the ESP, "::EFI/...") out of a noos disk."""
    (esp,) = [start for label, start, _ in repro.partitions(disk) if label == "esp"]
    subprocess.run(["mcopy", "-n", "-i", f"{disk}@@{esp}", name, str(output)], check=True)
    return output


def probe_disk(boot_loader: Path, uki: Path, directory: Path) -> Path:
    """A GPT disk whose ESP holds `boot_loader` as the removable-media path
    (\\EFI\\BOOT\\BOOTX64.EFI) and `uki` under \\EFI\\Linux, where
    systemd-boot finds and starts it (no loader.conf: no menu, no wait)."""
    disk = directory / "probe.raw"
    with disk.open("wb") as file:
        file.truncate(PROBE_ESP_MIB << 20)
    esp_type = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    layout = f"label: gpt\nstart=2048, type={esp_type}, name=esp\n"
    subprocess.run(["sfdisk", "--quiet", str(disk)], input=layout, text=True, check=True)
    (_, start, size) = repro.partitions(disk)[0]
    subprocess.run(
        ["mkfs.vfat", "-S", "512", "--offset", str(start // 512), str(disk), str(size // 1024)],
        check=True,
        capture_output=True,
    )
    fat = f"{disk}@@{start}"
    subprocess.run(["mmd", "-i", fat, "::EFI", "::EFI/BOOT", "::EFI/Linux"], check=True)
    subprocess.run(["mcopy", "-i", fat, str(boot_loader), "::EFI/BOOT/BOOTX64.EFI"], check=True)
    subprocess.run(["mcopy", "-i", fat, str(uki), "::EFI/Linux/noos.efi"], check=True)
    return disk


def assert_refused(image: BootImage, vars_file: Path, log_dir: Path) -> str:
    """Boot `image` under Secure Boot; return what the console showed once
    the firmware refused it, after checking that no kernel started."""
    machine = Machine(image, "uefi", log_dir=log_dir, secure_boot_vars=vars_file)
    try:
        machine.start()
        machine.wait_for_console_text(REFUSED, timeout=REFUSAL_TIMEOUT_S)
        console = machine.serial_log.read_bytes()
    finally:
        machine.close()
    for marker in KERNEL_STARTED:
        assert marker not in console, f"a kernel started: {machine.serial_log}"
    return console.decode(errors="replace")


def test_a_signed_build_boots_with_secure_boot_enforced(
    boot_image: BootImage, enrolled_vars: Path
) -> None:
    assert signed_by_test_key(boot_image.uki), f"{boot_image.uki} is not signed by {TEST_CERT}"
    with Machine(
        boot_image, "uefi", log_dir=LOG_ROOT / "secure-boot", secure_boot_vars=enrolled_vars
    ) as machine:
        machine.wait_for_shell()
        # The variable's 4 attribute bytes, then its value.
        state = machine.succeed(f"od -An -tu1 {SECURE_BOOT_VARIABLE}").split()
        assert state[-1] == "1", f"SecureBoot variable: {state}"
        kernel = machine.succeed("dmesg")
        assert re.search(r"(?i)secure ?boot:? enabled", kernel), kernel[-3000:]
        # Debian's kernel locks itself down under Secure Boot (unsigned modules refused).
        assert "Kernel is locked down from EFI Secure Boot" in kernel, kernel[-3000:]


def test_the_unsigned_default_image_is_refused(enrolled_vars: Path) -> None:
    default = BootImage.from_output(DEFAULT_IMAGE_DIR)
    assert not signed_by_test_key(default.uki)
    console = assert_refused(default, enrolled_vars, LOG_ROOT / "secure-boot-unsigned")
    # OVMF refused the default image's own boot loader, unsigned too.
    assert re.search(
        r"BdsDxe: failed to (load|start) Boot\d+ .*: (Access Denied|Security Violation)", console
    ), console


def test_a_signed_boot_loader_refuses_an_unsigned_uki(
    boot_image: BootImage, enrolled_vars: Path, tmp_path: Path
) -> None:
    boot_loader = esp_file(boot_image.disk, "::EFI/BOOT/BOOTX64.EFI", tmp_path / "BOOTX64.EFI")
    assert signed_by_test_key(boot_loader)
    default = BootImage.from_output(DEFAULT_IMAGE_DIR)
    disk = probe_disk(boot_loader, default.uki, tmp_path)
    probe = BootImage(disk=disk, kernel=default.kernel, initrd=default.initrd, uki=default.uki)
    console = assert_refused(probe, enrolled_vars, LOG_ROOT / "secure-boot-unsigned-uki")
    # systemd-boot, signed, started and refused to start the UKI.
    assert re.search(r"(?i)Error loading \\EFI\\Linux\\noos\.efi: Access denied", console), console
