"""docs/settings.md is generated from the services' settings tables, and kept so."""

from __future__ import annotations

from pathlib import Path

from noosd.runtime.registry import load_service, registered_services
from noosd.runtime.settings_doc import COMMAND, main, settings_reference

REFERENCE = Path(__file__).parents[3] / "docs" / "settings.md"


def test_the_settings_reference_is_up_to_date_with_the_tables() -> None:
    assert REFERENCE.read_text() == settings_reference(), f"regenerate it: {COMMAND}"


def test_the_reference_names_every_setting_of_every_service() -> None:
    reference = settings_reference()
    for name in registered_services():
        assert f"## {name}\n" in reference
        for setting in load_service(name).settings_table.settings:
            assert f"| `{setting.name}` | {setting.kind.name} |" in reference
            assert f"`{setting.env}`" in reference


def test_the_generator_writes_the_file(tmp_path: Path) -> None:
    assert main([str(tmp_path / "settings.md")]) == 0
    assert (tmp_path / "settings.md").read_text() == settings_reference()
