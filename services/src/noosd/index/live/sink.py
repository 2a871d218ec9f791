"""`IndexSink`: what the watcher and the crawler ask of the index engine.

Only these calls, so that the watcher's and the crawler's unit tests can
record them; the service passes the engine (`StoreRunner.sink`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Interrupted(Exception):
    """`index_files` was interrupted before it wrote anything."""


class IndexSink(Protocol):
    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
    ) -> object:
        """Index (or re-index) `paths`, all of the medium `device` (None: not
        removable); once `interrupt` is set, stop soon with nothing written
        (the engine's `Interrupted`)."""

    def forget(self, path: Path) -> int:
        """Drop the entries of the file, or of every file under the directory, at `path`."""

    def rename(self, old: Path, new: Path) -> int:
        """Move the entries of the file or directory `old` to `new`, keeping what was embedded."""

    def indexed_paths(self, directory: Path) -> list[Path]:
        """The files indexed under `directory`."""
