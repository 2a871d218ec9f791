"""The directories the index covers: the configured roots and mounted media.

The watcher and the crawler share one `IndexedRoot` per directory, so that a
`.noosignore` change that one of them sees (`IgnoreRules.forget`) holds for
both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from noosd.index.core.ignore import IgnoreRules


@dataclass(frozen=True)
class IndexedRoot:
    """A directory whose files are indexed; `device` tags the entries of removable media."""

    path: Path
    device: str | None = None
    rules: IgnoreRules = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", IgnoreRules(self.path))

    def why_ignored(self, path: Path, is_dir: bool) -> str | None:
        return self.rules.why_ignored(path, is_dir)


class RootSet:
    """The roots being indexed, safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roots: dict[Path, IndexedRoot] = {}

    def add(self, root: IndexedRoot) -> None:
        with self._lock:
            self._roots[root.path] = root

    def remove(self, path: Path) -> IndexedRoot | None:
        with self._lock:
            return self._roots.pop(path, None)

    def get(self, path: Path) -> IndexedRoot | None:
        with self._lock:
            return self._roots.get(path)

    def containing(self, path: Path) -> IndexedRoot | None:
        """The deepest root that `path` is in (a medium mounted inside a home is its own root)."""
        with self._lock:
            for directory in (path, *path.parents):
                if (root := self._roots.get(directory)) is not None:
                    return root
        return None

    def all(self) -> list[IndexedRoot]:
        with self._lock:
            return sorted(self._roots.values(), key=lambda root: root.path)
