"""The settings of org.noos.System1 (`noosd.runtime.settings`): /etc/noos/system.toml."""

from __future__ import annotations

from noosd.runtime.settings import PATH, Setting, SettingsTable
from noosd.shared.models import MODELS_DIR
from noosd.system.image import DEFAULT_OS_RELEASE

OS_RELEASE = Setting(
    "os_release",
    PATH,
    DEFAULT_OS_RELEASE,
    "NOOS_OS_RELEASE",
    "the image's os-release, whose IMAGE_VERSION and NOOS_DEBIAN_LOCK `noos status` shows",
)
SETTINGS = SettingsTable("system", (MODELS_DIR, OS_RELEASE))
