"""The image's build, as org.noos.System1 reads it from os-release."""

from __future__ import annotations

from pathlib import Path

from noosd.system.image import ImageRelease, parse_os_release, read_image_release

# Debian's os-release, as mkosi.postinst.chroot and mkosi leave it in the image.
IMAGE_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
HOME_URL="https://www.debian.org/"
NOOS_DEBIAN_LOCK="sha256:0f1e2d"
IMAGE_ID="noos"
IMAGE_VERSION="fa070cb-dirty"
"""


def test_the_image_fields_are_read_quoted_or_not() -> None:
    fields = parse_os_release(IMAGE_OS_RELEASE)
    assert fields["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert fields["ID"] == "debian"
    assert fields["IMAGE_VERSION"] == "fa070cb-dirty"


def test_lines_that_are_not_one_assignment_of_one_word_are_skipped() -> None:
    text = "# comment\n\nNAME='it''s'\nBROKEN=\"unclosed\nTWO=two words\n9X=1\nnot a line\nEMPTY=\n"
    assert parse_os_release(text) == {"NAME": "its", "EMPTY": ""}


def test_the_release_of_an_image(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text(IMAGE_OS_RELEASE)
    assert read_image_release(path) == ImageRelease("fa070cb-dirty", "sha256:0f1e2d")


def test_outside_an_image_the_fields_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text("ID=debian\n")
    assert read_image_release(path) == ImageRelease("", "")
    assert read_image_release(tmp_path / "missing") == ImageRelease("", "")
