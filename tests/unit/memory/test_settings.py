"""Memory's tunables from /etc/noos/memory.toml: each reaches the store's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from noosd.memory.core.config import MemoryConfig
from noosd.memory.settings import SETTINGS, TUNABLES, MemorySettings
from noosd.runtime.settings import SettingsError


def settings_from(tmp_path: Path, toml: str) -> MemorySettings:
    (tmp_path / "memory.toml").write_text(toml)
    return MemorySettings.of(SETTINGS.load(tmp_path, environ={}))


def test_the_defaults_are_the_stores_own(tmp_path: Path) -> None:
    assert MemorySettings.of(SETTINGS.load(tmp_path, environ={})).config == MemoryConfig()


def test_every_tunable_reaches_the_config(tmp_path: Path) -> None:
    config = settings_from(
        tmp_path,
        "hot_capacity = 500\nwarm_capacity = 2000\nprune_threshold = 0.2\n"
        "hot_on_gpu = false\nweight_recency = 0.5\n",
    ).config
    assert (config.hot_capacity, config.warm_capacity) == (500, 2000)
    assert config.prune_threshold == 0.2
    assert config.hot_on_gpu is False
    assert config.weights.recency == 0.5
    names = {setting.name for setting in TUNABLES}
    assert {"hot_capacity", "max_limit", "weight_relevance"} <= names


def test_a_value_out_of_its_range_names_the_file_and_the_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"memory\.toml: cold_threshold: must be at least 0"):
        settings_from(tmp_path, "cold_threshold = 1.5\n")


def test_values_that_do_not_fit_together_are_refused_in_one_line(tmp_path: Path) -> None:
    zero_weights = "".join(
        f"weight_{name} = 0.0\n"
        for name in ("relevance", "recency", "importance", "time_reference")
    )
    with pytest.raises(SettingsError, match="memory settings: score weights") as raised:
        settings_from(tmp_path, zero_weights)
    assert "\n" not in str(raised.value)
