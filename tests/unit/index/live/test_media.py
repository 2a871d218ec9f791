"""Removable media from the mount table, without udev: parsing, selection, diffs, the monitor."""

from __future__ import annotations

import os
from pathlib import Path

from noosd.index.live.media import (
    DEFAULT_MEDIA_DIRS,
    KnownMedia,
    MediaMonitor,
    Medium,
    Mount,
    media_mounts,
    mount_changes,
    parse_mountinfo,
)

SYSTEM = """\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=402944k,mode=755
25 22 0:23 / /media rw,relatime shared:6 - tmpfs tmpfs rw
26 22 254:2 / /home rw,relatime shared:7 - ext4 /dev/vda2 rw
"""
STICK = "90 25 8:17 / /media/user/HOLIDAY\\040PICS rw,nosuid,nodev shared:80 - vfat /dev/sdb1 rw\n"
CARD = "91 24 179:1 / /run/media/user/card rw,nosuid shared:81 - exfat /dev/mmcblk0p1 rw\n"
FUSE = "92 25 0:50 / /media/user/phone rw,nosuid shared:82 - fuse.gvfsd-fuse gvfsd-fuse rw\n"


def test_mountinfo_lines_are_parsed_with_their_escapes() -> None:
    mounts = parse_mountinfo(SYSTEM + STICK + "a line that is not mountinfo\n")
    assert len(mounts) == 6
    stick = mounts[-1]
    assert stick == Mount(Path("/media/user/HOLIDAY PICS"), os.makedev(8, 17), "vfat", "/dev/sdb1")


def test_media_are_block_devices_mounted_below_a_media_directory() -> None:
    mounts = parse_mountinfo(SYSTEM + STICK + CARD + FUSE)
    found = media_mounts(mounts, DEFAULT_MEDIA_DIRS)
    assert sorted(found) == [Path("/media/user/HOLIDAY PICS"), Path("/run/media/user/card")]


def test_a_mount_over_a_medium_hides_it() -> None:
    over = "93 90 0:60 / /media/user/HOLIDAY\\040PICS rw - tmpfs tmpfs rw\n"
    assert media_mounts(parse_mountinfo(SYSTEM + STICK + over), DEFAULT_MEDIA_DIRS) == {}


def test_the_diff_names_what_was_mounted_and_unmounted() -> None:
    before = media_mounts(parse_mountinfo(SYSTEM + STICK), DEFAULT_MEDIA_DIRS)
    after = media_mounts(parse_mountinfo(SYSTEM + CARD), DEFAULT_MEDIA_DIRS)
    changes = mount_changes(before, after)
    assert [m.mount_point for m in changes.appeared] == [Path("/run/media/user/card")]
    assert [m.mount_point for m in changes.gone] == [Path("/media/user/HOLIDAY PICS")]
    assert mount_changes(after, after).appeared == mount_changes(after, after).gone == []


def test_another_file_system_at_the_same_mount_point_is_a_change() -> None:
    other = STICK.replace("8:17", "8:33").replace("/dev/sdb1", "/dev/sdc1")
    before = media_mounts(parse_mountinfo(SYSTEM + STICK), DEFAULT_MEDIA_DIRS)
    after = media_mounts(parse_mountinfo(SYSTEM + other), DEFAULT_MEDIA_DIRS)
    changes = mount_changes(before, after)
    assert [m.source for m in changes.gone] == ["/dev/sdb1"]
    assert [m.source for m in changes.appeared] == ["/dev/sdc1"]


def test_the_monitor_reports_media_as_they_come_and_go(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(SYSTEM + STICK)
    appeared: list[Medium] = []
    gone: list[Medium] = []
    monitor = MediaMonitor(
        DEFAULT_MEDIA_DIRS,
        appeared.append,
        gone.append,
        mountinfo=mountinfo,
        udev=None,
        sys_dev_block=tmp_path / "block",
    )
    monitor.start()
    try:
        stick = Medium(
            Path("/media/user/HOLIDAY PICS"), os.makedev(8, 17), "/media/user/HOLIDAY PICS"
        )
        assert appeared == [stick] and gone == []
        mountinfo.write_text(SYSTEM + CARD)
        monitor.rescan()
        assert gone == [stick]
        assert [medium.mount_point for medium in appeared[1:]] == [Path("/run/media/user/card")]
        assert monitor.media() == appeared[1:]
    finally:
        monitor.stop()


def test_a_stick_pulled_out_before_it_was_unmounted_is_gone(tmp_path: Path) -> None:
    # Its mount lingers in the table; its device no longer is in sysfs.
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(SYSTEM + STICK)
    sys_dev_block = tmp_path / "block"
    sys_dev_block.mkdir()
    (sys_dev_block / "8:17").mkdir()
    gone: list[Medium] = []
    monitor = MediaMonitor(
        DEFAULT_MEDIA_DIRS,
        lambda medium: None,
        gone.append,
        mountinfo=mountinfo,
        udev=None,
        sys_dev_block=sys_dev_block,
    )
    monitor.start()
    try:
        monitor.rescan()
        assert gone == [] and len(monitor.media()) == 1
        (sys_dev_block / "8:17").rmdir()
        monitor.rescan()
        assert [medium.device_number for medium in gone] == [os.makedev(8, 17)]
        assert monitor.media() == []
    finally:
        monitor.stop()


def test_known_media_are_remembered_across_restarts(tmp_path: Path) -> None:
    known = KnownMedia(tmp_path / "media.json")
    known.add("2F3A-11C0")
    known.add("2F3A-11C0")
    assert KnownMedia(tmp_path / "media.json").tags == {"2F3A-11C0"}
    (tmp_path / "broken.json").write_text("{not json")
    assert KnownMedia(tmp_path / "broken.json").tags == set()
