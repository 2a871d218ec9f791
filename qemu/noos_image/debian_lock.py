"""requirements/debian.lock: the Debian packages that went into the image.

mkosi's manifest (`ManifestFormat=json`, build/image/noos.manifest) says
which packages the build installed; the lock is that list, one package a
line, committed (requirements/debian-gpu.lock for `VARIANT=gpu`). Each
build compares its manifest with the lock and prints any difference as
(package, locked, got); `make lock-check` fails on one; `make lock` writes
the lock afresh from a manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

HEADER = (
    "# The Debian packages in the noos image: name, architecture, version.\n"
    "# Written by `make lock` from mkosi's manifest; `make image` warns and\n"
    "# `make lock-check` fails when the image gets other versions\n"
    "# (docs/image.md#the-debian-lock).\n"
)
NONE = "-"


class LockError(ValueError):
    """A manifest or lock that cannot be read."""


@dataclass(frozen=True, order=True)
class Difference:
    package: str  # name:architecture
    locked: str  # the locked version, or NONE: not in the lock
    got: str  # the image's version, or NONE: not in the image


# name:architecture -> version
Packages = dict[str, str]


def from_manifest(text: str) -> Packages:
    """The Debian packages of a mkosi JSON manifest."""
    try:
        entries = json.loads(text)["packages"]
        return {
            f"{entry['name']}:{entry['architecture']}": entry["version"]
            for entry in entries
            if entry.get("type") == "deb"
        }
    except (ValueError, KeyError, TypeError) as error:
        raise LockError(f"not a mkosi JSON manifest: {error!r}") from None


def from_lock(text: str) -> Packages:
    """The packages of a lock file; a line it cannot read is an error, with its number."""
    packages: Packages = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3:
            raise LockError(f"line {number}: want `name architecture version`, got {line!r}")
        name, architecture, version = fields
        key = f"{name}:{architecture}"
        if key in packages:
            raise LockError(f"line {number}: {key} is locked twice")
        packages[key] = version
    return packages


def render(packages: Packages) -> str:
    """The lock file of `packages`, sorted so that a refresh diffs line by line."""
    lines = []
    for key in sorted(packages):
        name, _, architecture = key.rpartition(":")
        lines.append(f"{name} {architecture} {packages[key]}\n")
    return HEADER + "".join(lines)


def compare(locked: Packages, got: Packages) -> list[Difference]:
    """Every package whose version differs, or that only one side has."""
    return sorted(
        Difference(key, locked.get(key, NONE), got.get(key, NONE))
        for key in locked.keys() | got.keys()
        if locked.get(key) != got.get(key)
    )


def report(differences: list[Difference], lock: Path) -> str:
    """What a failed check prints: a table of what moved, and what to do."""
    rows = [("package", "locked", "got")] + [(d.package, d.locked, d.got) for d in differences]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    table = "\n".join(f"  {p:<{widths[0]}}  {lo:<{widths[1]}}  {g}" for p, lo, g in rows)
    return (
        f"the image's Debian packages differ from {lock} "
        f"({len(differences)} package(s); {NONE}: none):\n{table}\n"
        "The mirror serves other versions than the lock's (or mkosi.conf's packages "
        f"changed): check them, then `{refresh_command(lock)}` records them; commit the lock."
    )


def refresh_command(lock: Path) -> str:
    """The make command that writes `lock` afresh: requirements/debian-gpu.lock is VARIANT=gpu's."""
    _, dash, variant = lock.stem.partition("-")
    return "make lock-debian" + (f" VARIANT={variant}" if dash else "")


def digest(lock_text: bytes) -> str:
    """The lock's digest, as the image's os-release carries it (NOOS_DEBIAN_LOCK=)."""
    return "sha256:" + hashlib.sha256(lock_text).hexdigest()
