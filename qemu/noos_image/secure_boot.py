"""The Secure Boot key pair a build signs with (`SECURE_BOOT_KEY=`,
`SECURE_BOOT_CERT=`), checked before mkosi runs: mkosi 24.3 would fail deep
in the build (sbsign's OpenSSL errors after the packages and the venv are
installed), or sign with a certificate that no firmware should be given.
openssl reads the files (no Python dependency: the Makefile runs this with
the host's python3). docs/image.md#secure-boot says how to make a pair."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# How openssl prints a certificate's dates (`-dates`): "Jan  1 00:00:00 2030 GMT".
OPENSSL_DATE = "%b %d %H:%M:%S %Y %Z"
MAKE_A_PAIR = "docs/image.md#secure-boot says how to make a key pair (`mkosi genkey`)"


class KeyPairError(Exception):
    """A key pair no build may sign with; the message says why and what to do."""


@dataclass(frozen=True)
class Signer:
    """The certificate a build signs with, as the build's log names it."""

    subject: str
    not_after: datetime


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )


def _openssl_said(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[0] if lines else f"status {result.returncode}"


def _readable(variable: str, path: Path) -> None:
    if not path.exists():
        raise KeyPairError(f"{variable}={path}: no such file")
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as error:
        raise KeyPairError(f"{variable}={path}: cannot be read: {error.strerror}") from None


def _date(text: str) -> datetime:
    return datetime.strptime(text, OPENSSL_DATE).replace(tzinfo=UTC)


def check(key: Path, certificate: Path, now: datetime | None = None) -> Signer:
    """The certificate's subject and end, when `key` and `certificate` make a
    pair mkosi can sign with and firmware can check; KeyPairError otherwise."""
    _readable("SECURE_BOOT_KEY", key)
    _readable("SECURE_BOOT_CERT", certificate)
    shown = _openssl(
        "x509", "-inform", "PEM", "-in", str(certificate), "-noout",
        "-subject", "-nameopt", "RFC2253", "-dates", "-text",
    )  # fmt: skip
    if shown.returncode != 0:
        raise KeyPairError(
            f"SECURE_BOOT_CERT={certificate}: not a PEM X.509 certificate "
            f"(openssl: {_openssl_said(shown)}); a DER one converts with "
            f"`openssl x509 -inform DER -in CERT -out CERT.pem`"
        )
    fields = dict(
        line.split("=", 1) for line in shown.stdout.splitlines()[:3] if "=" in line
    )  # subject=, notBefore=, notAfter=
    not_before, not_after = _date(fields["notBefore"]), _date(fields["notAfter"])
    now = now or datetime.now(UTC)
    if now >= not_after:
        raise KeyPairError(
            f"SECURE_BOOT_CERT={certificate}: expired on {not_after:%Y-%m-%d %H:%M} UTC; "
            f"{MAKE_A_PAIR}"
        )
    if now < not_before:
        raise KeyPairError(
            f"SECURE_BOOT_CERT={certificate}: not valid before {not_before:%Y-%m-%d %H:%M} UTC "
            "(is this machine's clock right?)"
        )
    # UEFI firmware checks RSA signatures (RSA-2048 is what every firmware takes).
    if "Public Key Algorithm: rsaEncryption" not in shown.stdout:
        raise KeyPairError(
            f"SECURE_BOOT_CERT={certificate}: not an RSA key; UEFI firmware checks RSA "
            f"signatures (2048 bits). {MAKE_A_PAIR}"
        )
    # An empty passphrase: an encrypted key fails here instead of prompting.
    public = _openssl("pkey", "-in", str(key), "-passin", "pass:", "-pubout")
    if public.returncode != 0:
        raise KeyPairError(
            f"SECURE_BOOT_KEY={key}: not an unencrypted PEM private key "
            f"(openssl: {_openssl_said(public)}); mkosi's sbsign reads the key without a "
            "passphrase: `openssl pkey -in KEY -out KEY.plain` decrypts one"
        )
    certified = _openssl("x509", "-in", str(certificate), "-noout", "-pubkey")
    if certified.stdout != public.stdout:
        raise KeyPairError(
            f"SECURE_BOOT_KEY={key} is not the key of SECURE_BOOT_CERT={certificate} "
            "(their public keys differ): give the certificate made from this key"
        )
    return Signer(subject=fields["subject"].strip(), not_after=not_after)


def check_variables(key: str, certificate: str) -> Signer | None:
    """The Makefile's two variables: both empty (an unsigned build, None) or a good pair."""
    if not key and not certificate:
        return None
    if not key or not certificate:
        given, missing = (
            ("SECURE_BOOT_KEY", "SECURE_BOOT_CERT")
            if key
            else ("SECURE_BOOT_CERT", "SECURE_BOOT_KEY")
        )
        raise KeyPairError(f"{given}= is set but {missing}= is not: a signed build needs both")
    return check(Path(key), Path(certificate))
