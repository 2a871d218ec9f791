"""The Secure Boot key pair check (noos_image.secure_boot, `python -m
noos_image secure-boot KEY CERT`), which `make image` runs before mkosi:
each bad pair is refused with why, on real files made by openssl."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from noos_image import secure_boot
from noos_image.__main__ import main


def pair(directory: Path, name: str = "db", *algorithm: str) -> tuple[Path, Path]:
    """A key and its self-signed certificate, valid from now for 30 days (RSA-2048 by default)."""
    key, certificate = directory / f"{name}.key", directory / f"{name}.crt"
    subprocess.run(
        ["openssl", "genpkey", *(algorithm or ("-algorithm", "RSA")), "-out", str(key)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-key", str(key), "-subj", f"/CN=noos {name}/",
         "-days", "30", "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, certificate


def dated_certificate(directory: Path, key: Path, start: str, end: str) -> Path:
    """A self-signed certificate of `key` valid from `start` to `end`
    (YYYYMMDDHHMMSSZ): `openssl req` sets no dates in the past, `openssl ca` does."""
    request, certificate = directory / "old.csr", directory / "old.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-new",
            "-key",
            str(key),
            "-subj",
            "/CN=noos old/",
            "-out",
            str(request),
        ],
        check=True,
        capture_output=True,
    )
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("01\n")
    config = directory / "ca.cnf"
    config.write_text(
        "[ca]\ndefault_ca = ca\n[ca]\n"
        f"database = {directory}/index.txt\nnew_certs_dir = {directory}\n"
        f"serial = {directory}/serial\n"
        "default_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n"
    )
    subprocess.run(
        ["openssl", "ca", "-batch", "-notext", "-config", str(config), "-selfsign",
         "-keyfile", str(key), "-in", str(request), "-startdate", start, "-enddate", end,
         "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate


def test_a_good_pair_is_named_by_its_subject_and_end(tmp_path: Path) -> None:
    key, certificate = pair(tmp_path)
    signer = secure_boot.check(key, certificate)
    assert signer.subject == "CN=noos db"
    assert 29 <= (signer.not_after - datetime.now(UTC)).days <= 30


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    key, certificate = pair(tmp_path)
    with pytest.raises(
        secure_boot.KeyPairError, match=r"SECURE_BOOT_KEY=.*nope\.key: no such file"
    ):
        secure_boot.check(tmp_path / "nope.key", certificate)
    with pytest.raises(
        secure_boot.KeyPairError, match=r"SECURE_BOOT_CERT=.*nope\.crt: no such file"
    ):
        secure_boot.check(key, tmp_path / "nope.crt")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    # A directory: root reads any file whatever its mode, but no directory.
    key, _ = pair(tmp_path)
    with pytest.raises(secure_boot.KeyPairError, match=r"SECURE_BOOT_CERT=.*: cannot be read: "):
        secure_boot.check(key, tmp_path)


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    key, _ = pair(tmp_path, "one")
    _, other_certificate = pair(tmp_path, "two")
    with pytest.raises(secure_boot.KeyPairError, match="is not the key of"):
        secure_boot.check(key, other_certificate)


def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    key, _ = pair(tmp_path)
    old = dated_certificate(tmp_path, key, "20200101000000Z", "20210101000000Z")
    with pytest.raises(secure_boot.KeyPairError, match="expired on 2021-01-01 00:00 UTC"):
        secure_boot.check(key, old)


def test_a_certificate_not_valid_yet_is_refused(tmp_path: Path) -> None:
    key, _ = pair(tmp_path)
    future = dated_certificate(tmp_path, key, "20990101000000Z", "21000101000000Z")
    with pytest.raises(secure_boot.KeyPairError, match="not valid before 2099-01-01"):
        secure_boot.check(key, future)


def test_what_is_not_an_x509_certificate_is_refused(tmp_path: Path) -> None:
    key, certificate = pair(tmp_path)
    der = tmp_path / "db.der"
    subprocess.run(
        ["openssl", "x509", "-in", str(certificate), "-outform", "DER", "-out", str(der)],
        check=True,
    )
    text = tmp_path / "notes.txt"
    text.write_text("not a certificate\n")
    for wrong in (der, text, key):
        with pytest.raises(secure_boot.KeyPairError, match=r"not a PEM X\.509 certificate"):
            secure_boot.check(key, wrong)


def test_a_key_that_is_not_an_unencrypted_private_key_is_refused(tmp_path: Path) -> None:
    key, certificate = pair(tmp_path)
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:secret",
         "-out", str(encrypted)],
        check=True,
    )  # fmt: skip
    for wrong in (encrypted, certificate):
        with pytest.raises(secure_boot.KeyPairError, match="not an unencrypted PEM private key"):
            secure_boot.check(wrong, certificate)


def test_a_key_firmware_cannot_check_is_refused(tmp_path: Path) -> None:
    key, certificate = pair(
        tmp_path, "ec", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"
    )
    with pytest.raises(secure_boot.KeyPairError, match="not an RSA key"):
        secure_boot.check(key, certificate)


def test_the_makefiles_variables_go_together(tmp_path: Path) -> None:
    key, certificate = pair(tmp_path)
    assert secure_boot.check_variables("", "") is None
    with pytest.raises(
        secure_boot.KeyPairError, match="SECURE_BOOT_KEY= is set but SECURE_BOOT_CERT"
    ):
        secure_boot.check_variables(str(key), "")
    with pytest.raises(
        secure_boot.KeyPairError, match="SECURE_BOOT_CERT= is set but SECURE_BOOT_KEY"
    ):
        secure_boot.check_variables("", str(certificate))
    signer = secure_boot.check_variables(str(key), str(certificate))
    assert signer is not None and signer.subject == "CN=noos db"


def test_the_command_says_why_and_fails_before_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, certificate = pair(tmp_path)
    assert main(["secure-boot", str(key), str(certificate)]) == 0
    assert (
        "signing systemd-boot and the UKI for Secure Boot with CN=noos db"
        in capsys.readouterr().err
    )
    assert main(["secure-boot", str(key), str(tmp_path / "nope.crt")]) == 1
    said = capsys.readouterr().err
    assert "nope.crt: no such file" in said and "nothing was built" in said
    assert main(["secure-boot", "", ""]) == 0
    assert "unsigned" in capsys.readouterr().err
