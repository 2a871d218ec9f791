"""Which build of the noos image this is, from its os-release: the build's
version (IMAGE_VERSION=, which mkosi writes) and the digest of the Debian
lock it was checked against (NOOS_DEBIAN_LOCK=, mkosi.postinst.chroot).

Read once when the service starts: /usr is read-only in the image, so the
file cannot change under a running service.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

DEFAULT_OS_RELEASE = Path("/usr/lib/os-release")

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageRelease:
    """ "" for a field the file lacks: the services run outside a noos image."""

    version: str = ""
    debian_lock: str = ""


def parse_os_release(text: str) -> dict[str, str]:
    """os-release's KEY=value lines, each value one shell word (quoted or not);
    a line that is not one is skipped, as systemd skips it."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.isidentifier():
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        if len(words) <= 1:
            fields[key] = words[0] if words else ""
    return fields


def read_image_release(path: Path) -> ImageRelease:
    try:
        fields = parse_os_release(path.read_text(errors="replace"))
    except OSError as error:
        _log.warning("no image release from %s: %s", path, error)
        return ImageRelease()
    return ImageRelease(fields.get("IMAGE_VERSION", ""), fields.get("NOOS_DEBIAN_LOCK", ""))
