"""requirements/debian.lock against mkosi's manifest: parsing, comparison, the report, the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from noos_image import debian_lock
from noos_image.__main__ import main
from noos_image.debian_lock import Difference, LockError

REPOSITORY = Path(__file__).resolve().parents[3]


def manifest(*packages: tuple[str, str, str]) -> str:
    """A mkosi 24 JSON manifest of (name, architecture, version) packages."""
    return json.dumps(
        {
            "manifest_version": 1,
            "config": {"name": "noos", "distribution": "debian", "architecture": "x86-64"},
            "packages": [
                {"type": "deb", "name": n, "version": v, "architecture": a} for n, a, v in packages
            ],
        }
    )


KERNEL_56 = ("linux-image-6.1.0-56-amd64", "amd64", "6.1.191-1")
KERNEL_57 = ("linux-image-6.1.0-57-amd64", "amd64", "6.1.192-3")
META_56 = ("linux-image-amd64", "amd64", "6.1.191-1")
META_57 = ("linux-image-amd64", "amd64", "6.1.192-3")
TZDATA = ("tzdata", "all", "2025b-0+deb12u2")


def test_a_lock_written_from_a_manifest_reads_back_as_that_manifest() -> None:
    packages = debian_lock.from_manifest(manifest(TZDATA, KERNEL_56, META_56))
    text = debian_lock.render(packages)
    assert debian_lock.from_lock(text) == packages
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        "linux-image-6.1.0-56-amd64 amd64 6.1.191-1",
        "linux-image-amd64 amd64 6.1.191-1",
        "tzdata all 2025b-0+deb12u2",
    ]


def test_the_kernel_moving_is_said_package_by_package() -> None:
    locked = debian_lock.from_manifest(manifest(TZDATA, KERNEL_56, META_56))
    got = debian_lock.from_manifest(manifest(TZDATA, KERNEL_57, META_57))
    found = debian_lock.compare(locked, got)
    assert found == [
        Difference("linux-image-6.1.0-56-amd64:amd64", "6.1.191-1", "-"),
        Difference("linux-image-6.1.0-57-amd64:amd64", "-", "6.1.192-3"),
        Difference("linux-image-amd64:amd64", "6.1.191-1", "6.1.192-3"),
    ]
    report = debian_lock.report(found, Path("requirements/debian.lock"))
    rows = [line.split() for line in report.splitlines()]
    assert ["linux-image-amd64:amd64", "6.1.191-1", "6.1.192-3"] in rows
    assert ["linux-image-6.1.0-57-amd64:amd64", "-", "6.1.192-3"] in rows
    assert "make lock" in report


def test_the_same_packages_in_any_order_are_no_difference() -> None:
    locked = debian_lock.from_lock(
        debian_lock.render(debian_lock.from_manifest(manifest(TZDATA, META_56)))
    )
    assert debian_lock.compare(locked, debian_lock.from_manifest(manifest(META_56, TZDATA))) == []


def test_one_package_built_for_two_architectures_is_two_packages() -> None:
    got = debian_lock.from_manifest(manifest(("libc6", "amd64", "2.36"), ("libc6", "i386", "2.36")))
    assert debian_lock.compare({"libc6:amd64": "2.36"}, got) == [
        Difference("libc6:i386", "-", "2.36")
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("tzdata all\n", "line 1: want `name architecture version`"),
        ("# header\ntzdata all 1\ntzdata all 2\n", "line 3: tzdata:all is locked twice"),
    ],
)
def test_a_lock_it_cannot_read_says_which_line(text: str, why: str) -> None:
    with pytest.raises(LockError, match=why):
        debian_lock.from_lock(text)


@pytest.mark.parametrize("text", ["", "[]", '{"packages": [{"type": "deb"}]}', "{"])
def test_a_manifest_it_cannot_read_is_an_error(text: str) -> None:
    with pytest.raises(LockError, match="not a mkosi JSON manifest"):
        debian_lock.from_manifest(text)


def test_the_digest_is_the_lock_files_sha256() -> None:
    text = debian_lock.render({"tzdata:all": "1"}).encode()
    assert debian_lock.digest(text) == "sha256:" + hashlib.sha256(text).hexdigest()


def test_the_committed_lock_reads() -> None:
    packages = debian_lock.from_lock((REPOSITORY / "requirements/debian.lock").read_text())
    assert "systemd:amd64" in packages
    assert any(key.startswith("linux-image-6.1.0-") for key in packages)


def test_the_gpu_variants_lock_is_refreshed_with_its_variant() -> None:
    assert debian_lock.refresh_command(Path("requirements/debian.lock")) == "make lock-debian"
    assert (
        debian_lock.refresh_command(Path("requirements/debian-gpu.lock"))
        == "make lock-debian VARIANT=gpu"
    )


def test_a_build_from_a_moved_mirror_is_warned_loudly_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make image`'s default: CI on the live mirror stays green, the table says what moved."""
    old, new, lock = tmp_path / "old.manifest", tmp_path / "new.manifest", tmp_path / "debian.lock"
    old.write_text(manifest(TZDATA, KERNEL_56, META_56))
    new.write_text(manifest(TZDATA, KERNEL_57, META_57))
    assert main(["lock", "write", str(old), str(lock)]) == 0
    capsys.readouterr()

    assert main(["lock", "warn", str(new), str(lock)]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err
    assert ["linux-image-amd64:amd64", "6.1.191-1", "6.1.192-3"] in [
        line.split() for line in err.splitlines()
    ]
    assert main(["lock", "warn", str(old), str(lock)]) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_a_variant_without_a_lock_is_said_unchecked_by_warn_and_fails_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built, lock = tmp_path / "noos-gpu.manifest", tmp_path / "debian-gpu.lock"
    built.write_text(manifest(TZDATA, KERNEL_57, META_57))
    assert main(["lock", "warn", str(built), str(lock)]) == 0
    err = capsys.readouterr().err
    assert "not checked against a lock" in err
    assert "make lock-debian VARIANT=gpu" in err
    assert main(["lock", "check", str(built), str(lock)]) == 1
    assert "make lock-debian VARIANT=gpu" in capsys.readouterr().err


def test_the_cli_fails_a_build_that_got_other_versions_and_writes_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new, lock = tmp_path / "old.manifest", tmp_path / "new.manifest", tmp_path / "debian.lock"
    old.write_text(manifest(TZDATA, KERNEL_56, META_56))
    new.write_text(manifest(TZDATA, KERNEL_57, META_57))

    assert main(["lock", "check", str(old), str(lock)]) == 1
    assert "no " + str(lock) in capsys.readouterr().err
    assert main(["lock", "write", str(old), str(lock)]) == 0
    assert main(["lock", "check", str(old), str(lock)]) == 0
    written = lock.stat().st_mtime_ns

    assert main(["lock", "check", str(new), str(lock)]) == 1
    err = capsys.readouterr().err
    assert "linux-image-6.1.0-57-amd64:amd64" in err
    assert "3 package(s)" in err

    assert main(["lock", "write", str(old), str(lock)]) == 0
    assert lock.stat().st_mtime_ns == written, "an unchanged lock is not rewritten"
    assert main(["lock", "digest", str(lock)]) == 0
    assert capsys.readouterr().out == debian_lock.digest(lock.read_bytes()) + "\n"
