"""Secure Boot under QEMU (noos_qemu.secure_boot): the OVMF variables with a
certificate enrolled, written by the real virt-fw-vars, and the QEMU command
line that enforces them (OVMF's Secure Boot build, SMM, secure pflash)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from noos_qemu.__main__ import main
from noos_qemu.image import BootImage
from noos_qemu.launcher import Launch
from noos_qemu.profiles import PROFILES
from noos_qemu.secure_boot import OVMF_SECURE_CODE, enroll

from .test_launcher import image, value_after

__all__ = ["image"]


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    certificate = tmp_path / "db.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=noos db/",
         "-days", "30", "-keyout", str(tmp_path / "db.key"), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate


def enrolled(variables: Path) -> dict[str, str]:
    """What virt-fw-vars reads back from a variables file: each variable's lines by name."""
    shown = subprocess.run(
        ["virt-fw-vars", "--input", str(variables), "--print", "--verbose"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    blocks = [block.split("\n", 1) for block in shown.strip().split("\n\n")]
    return {head.split()[0].removeprefix("name="): body for head, body in blocks}


def test_the_certificate_is_enrolled_as_pk_kek_and_db_with_secure_boot_on(
    certificate: Path, tmp_path: Path
) -> None:
    variables = enroll(certificate, tmp_path / "vars.fd")
    shown = enrolled(variables)
    # Ours alone in each: neither Microsoft's keys nor Red Hat's.
    for name in ("PK", "KEK", "db"):
        assert "type=guid:EfiCertX509 count=1" in shown[name], shown[name]
        assert shown[name].count("CN=noos db") == 2, shown[name]  # subject, issuer
    assert shown["SecureBootEnable"].strip() == "bool: ON"


def test_the_command_writes_the_variables(
    certificate: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enroll", str(certificate), str(tmp_path / "vars.fd")]) == 0
    assert "CN=noos db" in enrolled(tmp_path / "vars.fd")["db"]
    assert main(["enroll", str(tmp_path / "nope.crt"), str(tmp_path / "other.fd")]) == 1
    assert "could not enroll" in capsys.readouterr().err


def test_secure_boot_runs_ovmfs_secure_build_with_smm_from_a_copy_of_the_variables(
    image: BootImage, certificate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    variables = enroll(certificate, tmp_path / "vars.fd")
    workdir = tmp_path / "run"
    workdir.mkdir()
    argv = Launch(image, PROFILES["uefi"], secure_boot_vars=variables).command(workdir)
    assert value_after(argv, "-machine") == ["q35,smm=on"]
    assert "driver=cfi.pflash01,property=secure,value=on" in value_after(argv, "-global")
    drives = value_after(argv, "-drive")
    assert f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_SECURE_CODE}" in drives
    assert f"if=pflash,format=raw,unit=1,file={workdir / 'OVMF_VARS.fd'}" in drives
    assert (workdir / "OVMF_VARS.fd").read_bytes() == variables.read_bytes()


def test_without_secure_boot_the_machine_has_no_smm(
    image: BootImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_QEMU_ACCEL", "tcg")
    argv = Launch(image, PROFILES["uefi"]).command(tmp_path)
    assert value_after(argv, "-machine") == ["q35"]
    assert "-global" not in argv


def test_secure_boot_needs_uefi(image: BootImage, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Secure Boot needs UEFI firmware"):
        Launch(image, PROFILES["direct"], secure_boot_vars=tmp_path).command(tmp_path)
    with pytest.raises(SystemExit):
        main(["run", "--image-dir", str(image.disk.parent), "--profile", "direct",
              "--secure-boot", str(tmp_path)])  # fmt: skip
