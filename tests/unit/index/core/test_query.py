"""Reading the filters out of a query: times, types and places, and what is left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from noos.protocol.errors import InvalidArgument
from noosd.index.core.query import MAX_QUERY_CHARS, ParsedQuery, parse_query

# Thursday 19 November 2026, 15:30 UTC.
NOW = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)
NOTES = frozenset({"markdown", "text", "rst", "org"})
CONFIG = frozenset({"yaml", "toml", "ini", "json", "conf"})


def at(day: int, hour: int = 0, month: int = 11, year: int = 2026) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def read(query: str, home: Path = Path("/home/user"), now: datetime = NOW) -> ParsedQuery:
    return parse_query(query, now, home)


def test_the_python_script_with_the_bug_from_tuesday() -> None:
    parsed = read("the python script with the bug from Tuesday")

    assert parsed == ParsedQuery(text="bug", since=at(17), until=at(18), languages={"python"})


def test_a_weekday_is_the_most_recent_one_before_today() -> None:
    tuesday = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)

    parsed = read("notes from Tuesday", now=tuesday)

    assert (parsed.since, parsed.until) == (at(10), at(11))


def test_yesterdays_notes() -> None:
    assert read("yesterday's notes") == ParsedQuery(
        text="", since=at(18), until=at(19), languages=NOTES
    )


def test_config_files_from_last_week_span_monday_to_monday() -> None:
    assert read("config files from last week") == ParsedQuery(
        text="", since=at(9), until=at(16), languages=CONFIG
    )


def test_pdf_about_taxes() -> None:
    assert read("pdf about taxes") == ParsedQuery(text="taxes", languages=frozenset({"pdf"}))


@pytest.mark.parametrize(
    "query",
    [
        "how does the scheduler share models between services?",
        "files I may have deleted",  # "may" is not May
        "the sun report",  # nor "sun" Sunday
        "March on Washington",
        "tax return 2024",  # a year alone is a word; "in 2024" a time
    ],
)
def test_a_query_without_filters_is_unchanged(query: str) -> None:
    assert read(query) == ParsedQuery(text=query)


@pytest.mark.parametrize(
    ("query", "text", "since", "until"),
    [
        ("what did I change this morning", "change", at(19, 5), at(19, 12)),
        ("the draft from yesterday afternoon", "draft", at(18, 12), at(18, 18)),
        ("music I played last night", "music played", at(18, 18), at(19, 6)),
        ("letters from may", "letters", at(1, month=5), at(1, month=6)),
        ("taxes in 2024", "taxes", at(1, month=1, year=2024), at(1, month=1, year=2025)),
        ("report on 2025-03-04", "report", at(4, month=3, year=2025), at(5, month=3, year=2025)),
        ("photos from 3 days ago", "photos", at(16), at(17)),
        ("everything since Monday", "everything", at(16), NOW.timestamp()),
        ("changes in the last 2 hours", "changes", at(19, 13) + 30 * 60, NOW.timestamp()),
    ],
)
def test_times_become_the_range_they_name(
    query: str, text: str, since: float, until: float
) -> None:
    assert read(query) == ParsedQuery(text=text, since=since, until=until)


def test_days_begin_at_midnight_in_the_time_zone_of_now() -> None:
    paris = timezone(timedelta(hours=1))
    now = datetime(2026, 11, 19, 0, 30, tzinfo=paris)  # still the 18th in UTC

    parsed = read("yesterday", now=now)

    assert parsed.since == datetime(2026, 11, 18, tzinfo=paris).timestamp()
    assert parsed.until == datetime(2026, 11, 19, tzinfo=paris).timestamp()


def test_several_types_add_up_and_a_type_after_about_is_a_topic() -> None:
    assert read("shell scripts and yaml files").languages == {"shell", "yaml"}
    assert read("notes about python") == ParsedQuery(text="python", languages=NOTES)


def test_in_my_projects_is_every_project_directory_that_exists(tmp_path: Path) -> None:
    (tmp_path / "projects").mkdir()
    (tmp_path / "src").mkdir()

    parsed = read("the parser in my projects", home=tmp_path)

    assert parsed == ParsedQuery(
        text="parser", path_prefixes=(tmp_path / "projects", tmp_path / "src")
    )


def test_a_place_that_does_not_exist_stays_in_the_query(tmp_path: Path) -> None:
    assert read("the parser in my projects", home=tmp_path) == ParsedQuery(
        text="the parser in my projects"
    )


def test_a_directory_can_be_named_by_its_path(tmp_path: Path) -> None:
    assert read("todo in ~/work/../notes", home=tmp_path).path_prefixes == (tmp_path / "notes",)
    assert read("logs under /srv/data").path_prefixes == (Path("/srv/data"),)


def test_a_query_that_is_not_a_short_string_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="string"):
        parse_query(42, NOW, Path("/home/user"))
    with pytest.raises(InvalidArgument, match="at most"):
        parse_query("x" * (MAX_QUERY_CHARS + 1), NOW, Path("/home/user"))
