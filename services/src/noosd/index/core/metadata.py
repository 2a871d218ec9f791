"""What the index records of a file besides its chunks."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from noosd.index.core.filetypes import FileType


@dataclass(frozen=True)
class FileMetadata:
    """A file as stat(2) and `filetypes` describe it.

    uid, gid and mode (the permission bits) decide who may see the file in
    results: one index serves every user, each only what they may read.
    device and inode recognise a file renamed to a new path, whose chunks
    then move without being embedded again.
    """

    path: Path
    uid: int
    gid: int
    mode: int
    mime: str
    language: str
    size: int
    mtime: float
    ctime: float
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path, status: os.stat_result, file_type: FileType) -> FileMetadata:
        return cls(
            path=path,
            uid=status.st_uid,
            gid=status.st_gid,
            mode=stat.S_IMODE(status.st_mode),
            mime=file_type.mime,
            language=file_type.language,
            size=status.st_size,
            mtime=status.st_mtime,
            ctime=status.st_ctime,
            device=status.st_dev,
            inode=status.st_ino,
        )
