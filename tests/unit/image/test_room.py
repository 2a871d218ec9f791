"""The disk-room check before an image build (noos_image.room): it measures
each filesystem once, counts the artifacts the build replaces as free, and
refuses, saying where and how short, before mkosi starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from noos_image import room
from noos_image.__main__ import main


def free_bytes(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def test_a_path_still_to_be_made_is_measured_where_it_will_be(tmp_path: Path) -> None:
    [measured] = room.measure([tmp_path / "build" / "image-test"], need=1)
    assert measured.mount == tmp_path
    assert measured.enough


def test_paths_on_one_filesystem_are_measured_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    rooms = room.measure([tmp_path / "a", tmp_path / "b", tmp_path], need=1)
    assert len(rooms) == 1


def test_the_artifacts_a_build_replaces_count_as_room(tmp_path: Path) -> None:
    output = tmp_path / "image"
    output.mkdir()
    (output / "noos.efi").write_bytes(os.urandom(1 << 20))
    sparse = output / "noos.raw"
    with sparse.open("wb") as file:
        file.truncate(1 << 30)  # a hole: no blocks, no room
    # One MiB of data counts, the sparse GiB does not.
    assert 1 << 20 <= room.allocated(output) < 2 << 20
    [counted] = room.measure([output], need=1, replaced=output)
    [uncounted] = room.measure([output], need=1)
    # Other writers share this disk: the difference is the artifacts, give or take.
    assert abs(counted.free - uncounted.free - room.allocated(output)) < 256 << 20


def test_too_little_room_is_refused_with_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_gib = free_bytes(tmp_path) / room.GIB + 1000
    assert main(["room", str(need_gib), str(tmp_path / "out"), str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "not enough disk room" in error
    assert f"a build needs {need_gib:.0f} GiB" in error
    assert "docs/image.md#disk-room" in error


def test_enough_room_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["room", "0.001", str(tmp_path / "out"), str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""
