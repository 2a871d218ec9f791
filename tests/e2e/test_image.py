"""The images' builds (`make image image-test`): the default image, what a
user installs, holds nothing of the tests; the test image, which the e2e
tests boot, differs from it by the test profile's files alone (file lists
written by mkosi.finalize, package manifests by mkosi); and the booted image
says which build it is and which Debian lock it was checked against."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from noos_image import debian_lock, files
from noos_qemu import BootImage, Machine

from .conftest import REPO

pytestmark = pytest.mark.e2e

DEFAULT_IMAGE_DIR = REPO / "build/image"
# The test profile includes the demo's (mkosi.profiles/test/mkosi.conf).
TEST_TREES = [REPO / "mkosi.profiles/test/mkosi.extra", REPO / "mkosi.profiles/demo/mkosi.extra"]
# Named, so that an emptied profile cannot pass the comparison.
TEST_FILES = (
    "/usr/lib/systemd/system/noos-test-backdoor.service",
    "/usr/lib/udev/rules.d/60-noos-test-backdoor.rules",
    "/usr/lib/noos-image/test-backdoor",
    "/etc/systemd/system/getty@tty1.service.d/autologin.conf",
    "/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf",
    "/etc/systemd/system/noos-firstboot.service.d/demo.conf",
)
LOCK = REPO / "requirements/debian.lock"
# bootctl's random bytes, which mkosi.finalize removes (docs/image.md#reproducible-builds).
RANDOM_SEED = "/efi/loader/random-seed"


def artifact(directory: Path, suffix: str) -> str:
    path = directory / f"noos{suffix}"
    if not path.exists():
        pytest.fail(f"no {path}: `make image image-test` builds both images")
    return path.read_text()


def test_the_default_image_has_no_test_files_and_the_test_image_only_adds_them(
    boot_image: BootImage,
) -> None:
    test_dir = boot_image.disk.parent
    assert test_dir.resolve() != DEFAULT_IMAGE_DIR.resolve(), "the e2e tests boot the test image"
    default = files.load(artifact(DEFAULT_IMAGE_DIR, ".files"))
    test = files.load(artifact(test_dir, ".files"))
    for path in TEST_FILES:
        assert path not in default, path
        assert test[path][0] == "file", path
    assert RANDOM_SEED not in default
    added = files.tree_paths(TEST_TREES)
    assert files.differences(default, test, added) == []
    default_packages = json.loads(artifact(DEFAULT_IMAGE_DIR, ".manifest"))["packages"]
    assert json.loads(artifact(test_dir, ".manifest"))["packages"] == default_packages


def test_noos_status_says_which_build_and_debian_lock_the_image_is(
    machine: Machine, boot_image: BootImage
) -> None:
    manifest = artifact(boot_image.disk.parent, ".manifest")
    built = json.loads(manifest)["config"]["version"]
    digest = debian_lock.digest(LOCK.read_bytes())
    # A build from a moved mirror goes on (docs/image.md#the-debian-lock):
    # the run's summary says which versions this image got instead.
    moved = debian_lock.compare(
        debian_lock.from_lock(LOCK.read_text()), debian_lock.from_manifest(manifest)
    )
    if moved:
        warnings.warn(debian_lock.report(moved, LOCK), stacklevel=1)
    out = machine.succeed("runuser -u user -- noos status --json", timeout=300)
    assert json.loads(out)["image"] == {"version": built, "debian_lock": digest}
    release = machine.succeed("cat /usr/lib/os-release")
    assert f'IMAGE_VERSION="{built}"' in release
    assert f'NOOS_DEBIAN_LOCK="{digest}"' in release
