"""docs/dbus.md is what the shipped introspection says today."""

from __future__ import annotations

from pathlib import Path

from noosd.runtime.reference import COMMAND, reference

REPO = Path(__file__).resolve().parents[3]


def test_the_dbus_reference_is_up_to_date() -> None:
    written = (REPO / "docs" / "dbus.md").read_text()
    assert written == reference(), f"regenerate with: {COMMAND}"


def test_the_reference_names_every_option_key() -> None:
    text = reference()
    for key in ("since", "for_uid", "max_tokens", "stream_fd", "page", "tokens_per_s"):
        assert f"| `{key}` |" in text
