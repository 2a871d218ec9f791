"""What is recorded of a file."""

from __future__ import annotations

import os
from pathlib import Path

from noosd.index.core.filetypes import file_type
from noosd.index.core.metadata import FileMetadata


def test_metadata_comes_from_stat_and_the_file_type(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n")
    path.chmod(0o640)
    os.utime(path, (1_000_000_000, 1_800_000_000))
    status = path.stat()

    metadata = FileMetadata.of(path, status, file_type(path))

    assert metadata == FileMetadata(
        path=path,
        uid=os.getuid(),
        gid=status.st_gid,
        mode=0o640,
        mime="text/markdown",
        language="markdown",
        size=8,
        mtime=1_800_000_000.0,
        ctime=status.st_ctime,
        device=status.st_dev,
        inode=status.st_ino,
    )
