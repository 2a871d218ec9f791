"""The file a caller names to IndexFile or Forget: checked before the index acts.

The service can read every file in the homes (CAP_DAC_READ_SEARCH), so it
must not index a file for a caller who could not read it (a user could
otherwise learn what another's private file says), nor forget one for a
caller who does not own it (one who may read your file could hide it from
your own searches). The answer says no in the order that leaks nothing: a
caller who may not look into the directory learns nothing of what is in it
(PermissionDenied), not even whether the file exists (NotFound). An ignored
file's reason quotes a `.noosignore` rule only to a caller who may read it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from noos.protocol.errors import InvalidArgument, NotFound, PermissionDenied, Unavailable
from noosd.index.core.ignore import Ignored
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.storage.access import ROOT_UID, AccessCheck, Caller, permits
from noosd.index.storage.walking import Refused, open_parent

# PATH_MAX, with its terminating NUL: no longer path can be opened.
MAX_PATH_BYTES = 4095


def absolute_path(text: str) -> Path:
    """`text` as a normalised absolute path, or InvalidArgument."""
    if not text:
        raise InvalidArgument("the path is empty")
    size = len(os.fsencode(text))
    if size > MAX_PATH_BYTES:
        raise InvalidArgument(f"a path has at most {MAX_PATH_BYTES} bytes, not {size}")
    if not text.startswith("/"):
        raise InvalidArgument(f"{text!r} is not an absolute path")
    return Path(os.path.normpath(text))


def indexed_root(path: Path, roots: RootSet, configured: Sequence[Path] = ()) -> IndexedRoot:
    """The indexed root that `path` is under, or InvalidArgument; Unavailable
    while the root of `configured` it is under is not watched yet (a service
    that has just started serves before its roots are all watched)."""
    root = roots.containing(path)
    if root is None:
        under = (top for top in configured if path.is_relative_to(top) and path != top)
        starting = next(under, None)
        if starting is not None:
            raise Unavailable(f"the index is starting to watch {starting}: retry in a moment")
    if root is None or root.path == path:
        indexed = ", ".join(str(root.path) for root in roots.all()) or "none yet"
        raise InvalidArgument(f"{path} is not a file under an indexed directory ({indexed})")
    return root


def may_search(directory: Path, caller: Caller) -> bool:
    """Whether `caller` may search (x) `directory` and every directory above it."""
    real = Path(os.path.realpath(directory))
    for step in (*reversed(real.parents), real):
        try:
            status = step.stat()
        except OSError:
            return False
        if not (stat.S_ISDIR(status.st_mode) and permits(status, caller, os.X_OK)):
            return False
    return True


def check_readable(path: Path, caller: Caller) -> None:
    """Raise unless `caller` may read the regular file at `path` now."""
    try:
        status = path.lstat()
    except OSError as error:
        # Whether it exists is for those who may look where it would be.
        nearest = next(directory for directory in path.parents if directory.is_dir())
        if not may_search(nearest, caller):
            raise PermissionDenied(f"uid {caller.uid} may not look into {nearest}") from None
        raise NotFound(f"no file {path} ({error.strerror})") from None
    if not may_search(path.parent, caller):
        raise PermissionDenied(f"uid {caller.uid} may not look into {path.parent}")
    if stat.S_ISDIR(status.st_mode):
        raise InvalidArgument(f"{path} is a directory: name a file (Reindex crawls directories)")
    if not stat.S_ISREG(status.st_mode):
        raise InvalidArgument(f"{path} is not a regular file: the index holds no links or devices")
    if not AccessCheck(caller).may_open(path):
        raise PermissionDenied(f"uid {caller.uid} may not read {path}")


def check_owned(path: Path, caller: Caller) -> None:
    """Raise unless `caller` owns the file at `path` (root owns every file),
    looked at without following a link (`walking`): only its owner may take a
    file out of the index, where everyone who may read it finds it."""
    if caller.uid == ROOT_UID:
        return
    parent = open_parent(path, caller)
    if isinstance(parent, Refused):
        raise NotFound(f"no file {path} ({parent.reason})")
    with parent:
        status = parent.lstat()
    if isinstance(status, Refused):
        raise NotFound(f"no file {path} ({status.reason})")
    if status.st_uid != caller.uid:
        raise PermissionDenied(
            f"uid {caller.uid} may not forget {path}: only its owner (uid {status.st_uid}) may"
        )


def ignored_reason_for(ignored: Ignored, caller: Caller) -> str:
    """Why a file is ignored, as told to `caller`: the `.noosignore` line that
    decided it only when they may read that file (the service reads it with
    its capability, whoever may not)."""
    rule_file = ignored.rule_file
    if rule_file is None or AccessCheck(caller).may_open(rule_file):
        return ignored.reason
    return f"a rule of {rule_file} (which uid {caller.uid} may not read) leaves it out"
