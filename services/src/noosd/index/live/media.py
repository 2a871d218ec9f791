"""Removable media: file systems mounted under /media, /run/media or /mnt.

A medium's files are indexed with its tag (the file system's UUID, as udev
knows it) while it is mounted; when it is unmounted, or its device goes
away, its entries are hidden, not deleted, and shown again when it comes
back, so that a USB stick plugged in weekly is embedded once.

What is mounted is read from /proc/self/mountinfo, which the kernel marks
readable-with-priority (POLLPRI) whenever the mount table changes: that
catches every mount and unmount, whoever makes it, without udev. A device
whose mount lingers (a stick pulled out before it was unmounted) is seen
gone by its node in /sys/dev/block, looked at every `LINGER_CHECK_S`: no
netlink socket, so the service needs no network namespace but its own
(udevd's netlink messages reach only the host's). udev's database (pyudev,
files under /run/udev) adds the UUID that names a file system wherever it
is mounted; without udevd (a container, the test host) media are tagged by
their mount point and the monitor says so once.
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
# Where the kernel lists block devices by number (MAJOR:MINOR), for as long as they exist.
SYS_DEV_BLOCK = Path("/sys/dev/block")
# Seconds between looks for a device pulled out from under its mount.
LINGER_CHECK_S = 2.0

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
    """udev's database, when udevd is there: file systems' UUIDs."""

    def __init__(self) -> None:
        self._pyudev: Any = None
        self._context: Any = None
        try:
            # udevd's control socket: without udevd its database is empty.
            if not Path("/run/udev/control").exists():
                raise OSError("udevd is not running")
            import pyudev

            self._pyudev = pyudev
            self._context = pyudev.Context()
        except Exception as error:
            _log.info("no udev (%s): media are tagged by their mount point", error)
            self._context = None

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


def device_exists(sys_dev_block: Path, device_number: int) -> bool:
    """Whether the kernel still lists the block device (a stick pulled out: no longer)."""
    return (sys_dev_block / f"{os.major(device_number)}:{os.minor(device_number)}").exists()


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
        sys_dev_block: Path = SYS_DEV_BLOCK,
    ) -> None:
        self._media_dirs = tuple(media_dirs)
        self._on_appeared = on_appeared
        self._on_gone = on_gone
        self._mountinfo = mountinfo
        self._udev = udev
        self._mounted: dict[Path, Mount] = {}
        self._media: dict[Path, Medium] = {}
        self._sys_dev_block = sys_dev_block
        # Devices listed in sysfs when their medium appeared: only those can be seen pulled out
        # (a file system on no block device of its own, btrfs's subvolumes, never is).
        self._listed: set[int] = set()
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
        try:
            text = self._mountinfo.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as error:
            _log.warning("cannot read %s: %s", self._mountinfo, error)
            return
        present = {
            point: mount
            for point, mount in media_mounts(parse_mountinfo(text), self._media_dirs).items()
            if not self._pulled_out(mount.device_number)
        }
        changes = mount_changes(self._mounted, present)
        self._mounted = present
        for mount in changes.gone:
            medium = self._media.pop(mount.mount_point, None)
            if medium is not None:
                self._report(self._on_gone, medium)
        for mount in changes.appeared:
            if device_exists(self._sys_dev_block, mount.device_number):
                self._listed.add(mount.device_number)
            medium = Medium(mount.mount_point, mount.device_number, self._tag(mount))
            self._media[mount.mount_point] = medium
            self._report(self._on_appeared, medium)

    def _pulled_out(self, device_number: int) -> bool:
        return device_number in self._listed and not device_exists(
            self._sys_dev_block, device_number
        )

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
        while True:
            ready = {descriptor for descriptor, _ in poller.poll(LINGER_CHECK_S * 1000)}
            if self._wake_read in ready:
                return
            self.rescan()
