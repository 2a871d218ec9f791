"""`RecordingSink`: a test double of the index engine's `IndexSink` calls.

It records each call, in order, and keeps the set of "indexed" paths the
calls would leave, so that the watcher's and the crawler's tests can check
what they asked of the engine without loading a model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from noosd.shared.diskspace import DiskFull


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.indexed: set[Path] = set()
        self._lock = threading.Lock()

    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
    ) -> object:
        with self._lock:
            for path in paths:
                self.calls.append(("index", str(path)))
                self.indexed.add(path)
        return None

    def forget(self, path: Path) -> int:
        with self._lock:
            self.calls.append(("forget", str(path)))
            gone = {p for p in self.indexed if p == path or p.is_relative_to(path)}
            self.indexed -= gone
            return len(gone)

    def rename(self, old: Path, new: Path) -> int:
        with self._lock:
            self.calls.append(("rename", str(old), str(new)))
            moved = {p for p in self.indexed if p == old or p.is_relative_to(old)}
            self.indexed -= moved
            self.indexed |= {new / p.relative_to(old) for p in moved}
            return len(moved)

    def indexed_paths(self, directory: Path) -> list[Path]:
        with self._lock:
            return sorted(p for p in self.indexed if p.is_relative_to(directory))

    def recorded(self) -> list[tuple[str, ...]]:
        with self._lock:
            return list(self.calls)

    def indexed_files(self, kind: str = "index") -> list[str]:
        """The paths of the recorded calls of `kind`, in order."""
        return [call[1] for call in self.recorded() if call[0] == kind]


class FullDiskSink(RecordingSink):
    """The index's disk is full after `batches` batches indexed, until
    `room` is set: every write is refused with `DiskFull`, as the engine's."""

    def __init__(self, batches: int = 0) -> None:
        super().__init__()
        self.left = batches
        self.refused = 0
        self.room = threading.Event()

    def _refuse_if_full(self) -> None:
        if self.left == 0 and not self.room.is_set():
            self.refused += 1
            raise DiskFull("the index")

    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
    ) -> object:
        self._refuse_if_full()
        self.left -= 1
        return super().index_files(paths, device=device)

    def forget(self, path: Path) -> int:
        self._refuse_if_full()
        return super().forget(path)

    def rename(self, old: Path, new: Path) -> int:
        self._refuse_if_full()
        return super().rename(old, new)


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.01)
