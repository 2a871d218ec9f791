"""Setting corrupt state aside: renamed in place, never deleted.

A file or directory found damaged is renamed `<name>.corrupt-<UTC time>` beside
where it was, for an administrator to inspect (or restore from), and the
rename is logged as an error, so that it reaches the journal. The service then
goes on without it: it rebuilds what was a cache, and starts afresh, empty,
what was the truth (saying so to the user it belonged to).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

_log = logging.getLogger(__name__)


def set_aside(path: Path, why: str) -> Path:
    """Rename `path` to a dated `.corrupt-` name beside it; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    suffix = 1
    while aside.exists():
        suffix += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{suffix}")
    path.rename(aside)
    _log.error("%s is corrupt (%s); set aside as %s", path, why, aside)
    return aside
