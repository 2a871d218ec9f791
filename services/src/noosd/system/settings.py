"""The settings of org.noos.System1 (`noosd.runtime.settings`): /etc/noos/system.toml."""

from __future__ import annotations

from noosd.runtime.settings import SettingsTable
from noosd.shared.models import MODELS_DIR

SETTINGS = SettingsTable("system", (MODELS_DIR,))
