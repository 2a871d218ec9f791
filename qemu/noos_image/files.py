"""What an image's root tree holds, file by file, and how two images differ.

mkosi.finalize writes the list at the end of each build (`<output>.files`
beside the disk), so two profiles' images are compared without mounting
them: the test image must hold the default image's every file unchanged,
plus the test profile's files and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path

# path (absolute in the image) -> [kind, mode, uid, gid, content]; content is
# a regular file's sha256, a link's target, or "" for the rest.
Listing = dict[str, list[str | int]]
CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _kind_and_content(path: Path, mode: int) -> tuple[str, str]:
    if stat.S_ISREG(mode):
        return "file", file_sha256(path)
    if stat.S_ISLNK(mode):
        return "link", str(path.readlink())
    if stat.S_ISDIR(mode):
        return "dir", ""
    return "other", ""


def list_tree(root: Path) -> Listing:
    """Every path under `root` (itself excluded), with what it is and holds."""
    listing: Listing = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            path = Path(directory, name)
            info = path.lstat()
            kind, content = _kind_and_content(path, info.st_mode)
            image_path = "/" + path.relative_to(root).as_posix()
            listing[image_path] = [
                kind,
                stat.S_IMODE(info.st_mode),
                info.st_uid,
                info.st_gid,
                content,
            ]
    return listing


def dump(listing: Listing) -> str:
    return json.dumps(listing, sort_keys=True, indent=0) + "\n"


def load(text: str) -> Listing:
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("an image's file list is a JSON object")
    return loaded


def tree_paths(trees: Iterable[Path]) -> set[str]:
    """The paths, as in the image, that extra trees (mkosi.extra/) put there."""
    paths = set()
    for tree in trees:
        for path in tree.rglob("*"):
            paths.add("/" + path.relative_to(tree).as_posix())
    return paths


def differences(base: Listing, derived: Listing, added: set[str]) -> list[str]:
    """How `derived` departs from `base` plus the paths `added`: each problem
    in a line. Directories that `added` shares with `base` (/etc, /usr) are
    expected in both; any other path of `added` must be in `derived` alone."""
    problems = []
    for path in sorted(added):
        if path not in derived:
            problems.append(f"{path}: missing from the derived image")
        elif path in base and derived[path][0] != "dir":
            problems.append(f"{path}: in the base image too")
    for path in sorted(derived.keys() - base.keys() - added):
        problems.append(f"{path}: only in the derived image, and not its profile's")
    for path in sorted(base.keys() - derived.keys()):
        problems.append(f"{path}: only in the base image")
    for path in sorted(base.keys() & derived.keys() - added):
        if base[path] != derived[path]:
            problems.append(f"{path}: {base[path]} in the base image, {derived[path]} derived")
    return problems
