"""`make repro`: two builds of one commit, compared artifact by artifact.

Each build starts from empty mkosi caches (docs/image.md#reproducible-builds);
their disks, UKIs, kernels and initrds must be identical by sha256. Where a
disk differs, each partition is hashed too, so the report says whether the
ESP (FAT) or the root (ext4) moved; diffoscope, when installed, says how the
small artifacts differ.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from noos_image import debian_lock
from noos_image.files import file_sha256

ARTIFACTS = (".raw", ".efi", ".vmlinuz", ".initrd")
# diffoscope reads these whole in a minute or two; a 9 GiB disk it would not.
DIFFOSCOPE_ARTIFACTS = (".efi", ".initrd", ".vmlinuz")
DIFFOSCOPE_TIMEOUT_S = 1200
SECTOR = 512


@dataclass(frozen=True)
class Compared:
    name: str  # the artifact, or "<disk> partition <n> (<label>)"
    first: str  # sha256 in the first build
    second: str  # sha256 in the second build

    @property
    def same(self) -> bool:
        return self.first == self.second


def partitions(disk: Path) -> list[tuple[str, int, int]]:
    """(name, first byte, length) of each partition of a GPT disk (sfdisk's view)."""
    table = json.loads(
        subprocess.run(
            ["sfdisk", "--json", str(disk)], check=True, capture_output=True, text=True
        ).stdout
    )["partitiontable"]
    return [
        (entry.get("name", entry["node"]), entry["start"] * SECTOR, entry["size"] * SECTOR)
        for entry in table["partitions"]
    ]


def range_sha256(path: Path, start: int, length: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        file.seek(start)
        while length > 0:
            chunk = file.read(min(length, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            length -= len(chunk)
    return digest.hexdigest()


def compare(first: Path, second: Path, image: str) -> list[Compared]:
    """Every artifact's sha256 in both builds; a differing disk's partitions too."""
    rows = []
    for suffix in ARTIFACTS:
        name = image + suffix
        row = Compared(name, file_sha256(first / name), file_sha256(second / name))
        rows.append(row)
        if suffix == ".raw" and not row.same:
            for index, (label, start, length) in enumerate(partitions(first / name), start=1):
                rows.append(
                    Compared(
                        f"{name} partition {index} ({label})",
                        range_sha256(first / name, start, length),
                        range_sha256(second / name, start, length),
                    )
                )
    return rows


def moved_packages(first: Path, second: Path, image: str) -> list[debian_lock.Difference]:
    """The Debian packages the two builds got in other versions (the mirror moved
    between them, or one came from an older cache): then their bytes may differ
    for a reason outside the commit."""
    manifest = image + ".manifest"
    return debian_lock.compare(
        debian_lock.from_manifest((first / manifest).read_text()),
        debian_lock.from_manifest((second / manifest).read_text()),
    )


def table(rows: list[Compared]) -> str:
    width = max(len(row.name) for row in rows)
    lines = []
    for row in rows:
        verdict = "same" if row.same else "DIFFERS"
        lines.append(f"  {row.name:<{width}}  {verdict:<7}  {row.first}")
        if not row.same:
            lines.append(f"  {'':<{width}}  {'':<7}  {row.second}")
    return "\n".join(lines)


def diffoscope(
    first: Path, second: Path, image: str, rows: list[Compared], out: Path
) -> list[Path]:
    """diffoscope's text report of each small artifact that differs, if diffoscope is here."""
    if shutil.which("diffoscope") is None:
        return []
    reports = []
    differing = {row.name for row in rows if not row.same}
    for suffix in DIFFOSCOPE_ARTIFACTS:
        name = image + suffix
        if name not in differing:
            continue
        report = out / f"diffoscope-{name}.txt"
        subprocess.run(
            [
                "diffoscope",
                "--no-progress",
                "--text",
                str(report),
                str(first / name),
                str(second / name),
            ],
            timeout=DIFFOSCOPE_TIMEOUT_S,
            check=False,
        )
        reports.append(report)
    return reports
