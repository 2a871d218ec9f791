"""The image's file list (noos_image.files): what a tree holds, and how a
derived image may differ from its base (only by its profile's files)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from noos_image import files
from noos_image.__main__ import main


def tree(root: Path, entries: dict[str, str]) -> Path:
    for relative, text in entries.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


BASE = {"etc/hostname": "noos\n", "usr/lib/os-release": "ID=debian\n"}
PROFILE = {
    "usr/lib/noos-image/test-backdoor": "#!/bin/bash\n",
    "etc/systemd/system/getty@tty1.service.d/autologin.conf": "[Service]\n",
}


def test_the_list_has_each_files_kind_mode_owner_and_content(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", BASE)
    (root / "etc/hostname").chmod(0o640)
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    uid, gid = os.getuid(), os.getgid()
    (root / "etc").chmod(0o751)
    listing = files.load(files.dump(files.list_tree(root)))
    assert listing["/etc"] == ["dir", 0o751, uid, gid, ""]
    assert listing["/etc/os-release"] == ["link", 0o777, uid, gid, "../usr/lib/os-release"]
    sha256 = hashlib.sha256(b"noos\n").hexdigest()
    assert listing["/etc/hostname"] == ["file", 0o640, uid, gid, sha256]
    assert "/" not in listing


def test_a_derived_image_with_only_its_profiles_files_differs_in_nothing(tmp_path: Path) -> None:
    base = files.list_tree(tree(tmp_path / "base", BASE))
    derived = files.list_tree(tree(tree(tmp_path / "derived", BASE), PROFILE))
    added = files.tree_paths([tree(tmp_path / "profile", PROFILE)])
    assert files.differences(base, derived, added) == []


def test_a_profile_file_in_the_base_image_and_any_other_change_are_each_named(
    tmp_path: Path,
) -> None:
    leaky = {**BASE, "usr/lib/noos-image/test-backdoor": "#!/bin/bash\n"}
    base = files.list_tree(tree(tmp_path / "base", {**leaky, "etc/motd": "hi\n"}))
    changed = {**BASE, "etc/hostname": "other\n", "etc/extra": "x\n"}
    derived = files.list_tree(tree(tree(tmp_path / "derived", changed), PROFILE))
    added = files.tree_paths([tree(tmp_path / "profile", PROFILE)])
    problems = files.differences(base, derived, added)
    assert [p.split(":")[0] for p in problems] == [
        "/usr/lib/noos-image/test-backdoor",
        "/etc/extra",
        "/etc/motd",
        "/etc/hostname",
    ], problems


def test_the_cli_writes_the_list(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", BASE)
    output = tmp_path / "noos.files"
    assert main(["files", str(root), str(output)]) == 0
    assert files.load(output.read_text()) == files.list_tree(root)
