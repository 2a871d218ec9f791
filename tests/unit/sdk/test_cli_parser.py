"""The `noos` command line's parsing: --json before or after any command or verb."""

from __future__ import annotations

import pytest

from noos.cli.main import parser


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "memory", "stats"],
        ["memory", "--json", "stats"],
        ["memory", "stats", "--json"],
        ["llm", "jobs", "--json"],
        ["index", "status", "--json"],
    ],
)
def test_json_may_come_before_or_after_any_command(argv: list[str]) -> None:
    assert parser().parse_args(argv).json is True


def test_without_json_the_output_is_for_people() -> None:
    assert parser().parse_args(["llm", "models"]).json is False
