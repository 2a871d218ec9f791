"""Disk room for an image build, checked before mkosi starts.

A build holds three copies of the root tree at its peak: mkosi's workspace
tree, systemd-repart's ext4 made beside it, and the disk it is copied into
(about 10 GiB today; docs/image.md#disk-room). Out of room, repart fails late
with "Failed to copy bytes to partition: No space left on device" after
minutes of work; this says so first, with the figures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30


@dataclass(frozen=True)
class Room:
    where: Path  # the path as asked
    mount: Path  # the existing directory whose filesystem was measured
    free: int  # bytes free there (not the reserve), plus what the build will replace
    need: int

    @property
    def enough(self) -> bool:
        return self.free >= self.need

    def line(self) -> str:
        return (
            f"{self.where}: {self.free / GIB:.1f} GiB free on {self.mount}'s filesystem "
            f"(the build's outputs it replaces counted), a build needs {self.need / GIB:.0f} GiB"
        )


def existing(path: Path) -> Path:
    """The nearest existing directory at or above `path`: where it will be made."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


def allocated(directory: Path) -> int:
    """Bytes the files directly in `directory` hold on disk (sparse disks by their blocks)."""
    if not directory.is_dir():
        return 0
    return sum(entry.stat().st_blocks * 512 for entry in directory.iterdir() if entry.is_file())


def measure(paths: list[Path], need: int, replaced: Path | None = None) -> list[Room]:
    """Each path's filesystem, measured once; `replaced` (the output directory,
    whose artifacts `mkosi --force` removes first) adds its files' blocks to the
    free bytes of its own filesystem."""
    rooms: list[Room] = []
    seen: set[int] = set()
    for path in paths:
        mount = existing(path)
        device = mount.stat().st_dev
        if device in seen:
            continue
        seen.add(device)
        stats = os.statvfs(mount)
        free = stats.f_bavail * stats.f_frsize
        if replaced is not None and existing(replaced).stat().st_dev == device:
            free += allocated(replaced)
        rooms.append(Room(path, mount, free, need))
    return rooms
