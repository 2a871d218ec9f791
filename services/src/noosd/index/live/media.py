"""Removable media: file systems mounted under /media, /run/media or /mnt.

A medium's files are indexed with its tag (the file system's UUID, as udev
knows it) while it is mounted; when it is unmounted, or its device goes
away, its entries are hidden, not deleted, and shown again when it comes
back, so that a USB stick plugged in weekly is embedded once.

What is mounted is read from /proc/self/mountinfo, which the kernel marks
readable-with-priority (POLLPRI) whenever the mount table changes: that
catches every mount and unmount, whoever makes it, without udev. udev
(pyudev) adds two things when it is there: the UUID that names a file
system wherever it is mounted, and the removal of a device whose mount
lingers (a stick pulled out before it was unmounted). Without udevd (a
container, the test host) media are tagged by their mount point and the
monitor says so once.
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MOUNTINFO = Path("/proc/self/mountinfo")
DEFAULT_MEDIA_DIRS = (Path("/media"), Path("/run/media"), Path("/mnt"))
KNOWN_MEDIA_FILE = "media.json"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mount:
    """One line of mountinfo (proc(5)): what is mounted where."""

    mount_point: Path
    device_number: int  # st_dev of the files on it
    fs_type: str
    source: str

    @property
    def is_block_device(self) -> bool:
        return self.source.startswith("/dev/")


def _unescape(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash in octal (\040)."""
    for escaped, plain in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(escaped, plain)
    return field


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts that mountinfo `text` lists, in its order (a later one hides an earlier)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
            major, minor = fields[2].split(":")
            mounts.append(
                Mount(
                    mount_point=Path(_unescape(fields[4])),
                    device_number=os.makedev(int(major), int(minor)),
                    fs_type=fields[separator + 1],
                    source=_unescape(fields[separator + 2]),
                )
            )
        except (ValueError, IndexError):
            _log.debug("skipping a mountinfo line: %r", line)
    return mounts


def media_mounts(mounts: Iterable[Mount], media_dirs: Sequence[Path]) -> dict[Path, Mount]:
    """The block devices mounted below one of `media_dirs`, by mount point."""
    found: dict[Path, Mount] = {}
    for mount in mounts:
        if mount.mount_point in found:
            del found[mount.mount_point]  # mounted over: the later mount is what is seen
        below_media = any(
            mount.mount_point != directory and mount.mount_point.is_relative_to(directory)
            for directory in media_dirs
        )
        if below_media and mount.is_block_device:
            found[mount.mount_point] = mount
    return found


@dataclass(frozen=True)
class MountChanges:
    appeared: list[Mount]
    gone: list[Mount]


def mount_changes(before: Mapping[Path, Mount], after: Mapping[Path, Mount]) -> MountChanges:
    """What was mounted and unmounted between two tables (a different file
    system at the same mount point is both)."""
    return MountChanges(
        appeared=[mount for point, mount in after.items() if before.get(point) != mount],
        gone=[mount for point, mount in before.items() if after.get(point) != mount],
    )


@dataclass(frozen=True)
class Medium:
    """A mounted medium and the tag that its index entries carry."""

    mount_point: Path
    device_number: int
    tag: str


class Udev:
    """udev, when it is there: file systems' UUIDs and devices' removals."""

    def __init__(self) -> None:
        self._pyudev: Any = None
        self._context: Any = None
        self.monitor: Any = None
        try:
            # udevd's control socket: without it nothing would ever arrive.
            if not Path("/run/udev/control").exists():
                raise OSError("udevd is not running")
            import pyudev

            self._pyudev = pyudev
            self._context = pyudev.Context()
            self.monitor = pyudev.Monitor.from_netlink(self._context)
            self.monitor.filter_by("block")
            self.monitor.start()
        except Exception as error:
            _log.info("no udev (%s): media are tagged by their mount point", error)
            self._context = self.monitor = None

    def uuid(self, device_number: int) -> str | None:
        """The UUID of the file system on a block device, if udev knows it."""
        if self._context is None:
            return None
        try:
            device = self._pyudev.Devices.from_device_number(self._context, "block", device_number)
            uuid = device.properties.get("ID_FS_UUID")
        except Exception:
            return None
        return str(uuid) if uuid else None

    def removed_devices(self) -> tuple[set[int], set[int]]:
        """The block devices removed and added since last asked (device numbers)."""
        removed: set[int] = set()
        added: set[int] = set()
        while self.monitor is not None and (device := self.monitor.poll(timeout=0)) is not None:
            if device.action == "remove":
                removed.add(device.device_number)
            elif device.action == "add":
                added.add(device.device_number)
        return removed, added


class KnownMedia:
    """The tags of every medium ever indexed, kept in the state directory, so
    that one unplugged while the service was down is hidden when it starts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tags: set[str] = set(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            self.tags = set()

    def add(self, tag: str) -> None:
        if tag not in self.tags:
            self.tags.add(tag)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(sorted(self.tags)), encoding="utf-8")
            temporary.replace(self.path)


class MediaMonitor:
    """Reports media as they are mounted (`on_appeared`) and go (`on_gone`),
    from a thread of its own; `start` reports what is mounted already."""

    def __init__(
        self,
        media_dirs: Sequence[Path],
        on_appeared: Callable[[Medium], None],
        on_gone: Callable[[Medium], None],
        *,
        mountinfo: Path = MOUNTINFO,
        udev: Udev | None = None,
    ) -> None:
        self._media_dirs = tuple(media_dirs)
        self._on_appeared = on_appeared
        self._on_gone = on_gone
        self._mountinfo = mountinfo
        self._udev = udev
        self._mounted: dict[Path, Mount] = {}
        self._media: dict[Path, Medium] = {}
        self._removed: set[int] = set()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="index-media", daemon=True)
        self._watched: BinaryIO | None = None

    def start(self) -> None:
        # Opened before the first read: a mount made in between still marks it.
        self._watched = self._mountinfo.open("rb")
        self.rescan()
        self._thread.start()

    def stop(self) -> None:
        os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join()
        for descriptor in (self._wake_read, self._wake_write):
            os.close(descriptor)
        if self._watched is not None:
            self._watched.close()

    def media(self) -> list[Medium]:
        return list(self._media.values())

    def rescan(self) -> None:
        """Read the mount table again, and report what appeared and went."""
        if self._udev is not None:
            removed, added = self._udev.removed_devices()
            self._removed = (self._removed | removed) - added
        try:
            text = self._mountinfo.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as error:
            _log.warning("cannot read %s: %s", self._mountinfo, error)
            return
        present = {
            point: mount
            for point, mount in media_mounts(parse_mountinfo(text), self._media_dirs).items()
            if mount.device_number not in self._removed
        }
        changes = mount_changes(self._mounted, present)
        self._mounted = present
        for mount in changes.gone:
            medium = self._media.pop(mount.mount_point, None)
            if medium is not None:
                self._report(self._on_gone, medium)
        for mount in changes.appeared:
            medium = Medium(mount.mount_point, mount.device_number, self._tag(mount))
            self._media[mount.mount_point] = medium
            self._report(self._on_appeared, medium)

    def _tag(self, mount: Mount) -> str:
        uuid = self._udev.uuid(mount.device_number) if self._udev is not None else None
        return uuid or str(mount.mount_point)

    @staticmethod
    def _report(callback: Callable[[Medium], None], medium: Medium) -> None:
        try:
            callback(medium)
        except Exception:
            _log.exception("handling the medium at %s failed", medium.mount_point)

    def _run(self) -> None:
        poller = select.poll()
        assert self._watched is not None
        poller.register(self._watched, select.POLLPRI | select.POLLERR)
        poller.register(self._wake_read, select.POLLIN)
        if self._udev is not None and self._udev.monitor is not None:
            poller.register(self._udev.monitor, select.POLLIN)
        while True:
            ready = {descriptor for descriptor, _ in poller.poll()}
            if self._wake_read in ready:
                return
            self.rescan()
