"""`make repro`'s comparison (noos_image.repro): two builds' artifacts by
sha256, and a differing disk's partitions one by one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from noos_image import repro
from noos_image.__main__ import main

MIB = 1 << 20


def build(directory: Path, *, root_byte: bytes = b"\0", kernel: str = "6.1.0-57") -> Path:
    """A build's artifacts: a 4 MiB GPT disk (esp, root), the three boot files
    and the manifest of its Debian packages (one, the kernel)."""
    directory.mkdir()
    package = {"type": "deb", "name": "linux-image-amd64", "architecture": "amd64"}
    (directory / "noos.manifest").write_text(
        json.dumps({"packages": [package | {"version": kernel}]})
    )
    disk = directory / "noos.raw"
    disk.write_bytes(b"\0" * 4 * MIB)
    layout = "label: gpt\nlabel-id: 6E6F6F73-0000-4000-8000-000000000002\n"
    layout += "size=1MiB, name=esp, uuid=6E6F6F73-0000-4000-8000-000000000003\n"
    layout += "name=noos-root, uuid=6E6F6F73-0000-4000-8000-000000000004\n"
    subprocess.run(["sfdisk", "--quiet", str(disk)], input=layout, text=True, check=True)
    (_, root_start, _) = repro.partitions(disk)[1]
    with disk.open("r+b") as file:
        file.seek(root_start + 4096)
        file.write(root_byte)
    for suffix, text in ((".efi", "uki"), (".vmlinuz", "kernel"), (".initrd", "initrd")):
        (directory / f"noos{suffix}").write_text(text)
    return directory


def test_two_identical_builds_compare_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = build(tmp_path / "1"), build(tmp_path / "2")
    rows = repro.compare(first, second, "noos")
    assert [row.name for row in rows] == ["noos.raw", "noos.efi", "noos.vmlinuz", "noos.initrd"]
    assert all(row.same for row in rows)
    assert main(["repro", str(first), str(second), "noos"]) == 0
    assert "the two builds are identical" in capsys.readouterr().out


def test_a_disk_that_differs_says_which_partition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = build(tmp_path / "1"), build(tmp_path / "2", root_byte=b"\1")
    rows = {row.name: row.same for row in repro.compare(first, second, "noos")}
    assert rows == {
        "noos.raw": False,
        "noos.raw partition 1 (esp)": True,
        "noos.raw partition 2 (noos-root)": False,
        "noos.efi": True,
        "noos.vmlinuz": True,
        "noos.initrd": True,
    }
    assert main(["repro", str(first), str(second), "noos"]) == 1
    out = capsys.readouterr().out
    assert "noos.raw partition 2 (noos-root)  DIFFERS" in out


def test_builds_of_other_packages_fail_unless_a_moved_mirror_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = build(tmp_path / "1")
    second = build(tmp_path / "2", root_byte=b"\1", kernel="6.1.0-58")
    [moved] = repro.moved_packages(first, second, "noos")
    assert (moved.package, moved.locked, moved.got) == (
        "linux-image-amd64:amd64",
        "6.1.0-57",
        "6.1.0-58",
    )
    # `make repro`: the same commit must give the same bytes, whatever moved.
    assert main(["repro", str(first), str(second), "noos"]) == 1
    capsys.readouterr()
    # CI's check against a cached build: says what moved, compares nothing.
    assert main(["repro", "--moved-mirror-passes", str(first), str(second), "noos"]) == 0
    out = capsys.readouterr().out
    assert "NOT COMPARED" in out
    assert "linux-image-amd64:amd64  6.1.0-57 -> 6.1.0-58" in out


def test_a_moved_mirror_never_hides_a_difference_of_the_same_packages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = build(tmp_path / "1"), build(tmp_path / "2", root_byte=b"\1")
    assert main(["repro", "--moved-mirror-passes", str(first), str(second), "noos"]) == 1
    assert "DIFFERS" in capsys.readouterr().out
