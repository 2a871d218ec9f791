"""Reading a search query: the filters it says in words, and what is left to search for.

"the python script with the bug from Tuesday" searches for "bug" in Python
files modified on the most recent Tuesday before today. Three small
vocabularies are read, in this order, and each phrase read is taken out:

- places (`PLACES`): "in my projects" is whichever of ~/projects, ~/src, ...
  exist; "in ~/work" or "under /srv/data" names the directory itself;
- times: "yesterday", "on Tuesday", "this morning", "last week", "in March",
  "3 days ago", "2025-03-04", "since Monday", "in the last 2 hours". Our own
  patterns find the phrase; dateparser resolves it (RELATIVE_BASE = now,
  PREFER_DATES_FROM = past: a weekday is the most recent one before today)
  to a date and the period it names, widened here to the [since, until) of
  that day, week (Monday to Monday), month, year or part of the day. "since
  X" runs from X to now, "the last N units" from N units ago to now, and
  several times intersect;
- types (`TYPES`): "python script" is Python, "notes" Markdown, text, rst and
  org, "config files" YAML, TOML, INI, JSON and .conf, "pdf" PDF; several
  types add up. A type word right after "about" is a topic ("notes about
  python"), not a filter.

The times are found by patterns rather than dateparser's `search_dates`,
which reads dates into ordinary words: "files I may have deleted" (May),
"the sun report" (Sunday), "march on Washington", "the 1st draft".

When a filter was read, the stop words it leaves behind ("the ... with ...
from") are dropped too, and the rest is the text to search for, empty for a
query made only of filters. A query where nothing was read is returned
unchanged: it is the user's own sentence, which the embedding model reads
best whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from dateparser.date import DateDataParser  # type: ignore[import-untyped]

from noos.protocol.errors import InvalidArgument
from noosd.index.core.filetypes import Category, languages_of

MAX_QUERY_CHARS = 1000

T = TypeVar("T")


@dataclass(frozen=True)
class ParsedQuery:
    """What a query asks for: `text` to search for (may be empty), in files
    modified in [since, until) (seconds since the epoch; None: unbounded), of
    one of these languages (empty: any), under one of these directories
    (empty: anywhere)."""

    text: str
    since: float | None = None
    until: float | None = None
    languages: frozenset[str] = frozenset()
    path_prefixes: tuple[Path, ...] = ()


def parse_query(query: object, now: datetime, home: Path) -> ParsedQuery:
    """Read the filters out of `query`, as asked at `now` by the user whose home is `home`.

    Days begin at midnight in now's time zone (local time when `now` is naive).
    """
    if not isinstance(query, str):
        raise InvalidArgument(f"a query must be a string, not {type(query).__name__}")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"a query is at most {MAX_QUERY_CHARS} characters, not {len(query)}")
    places, rest = _read(_PLACE, query, lambda match: _resolve_place(match, home))
    times, rest = _read(_TIME, rest, _TimeResolver(now).resolve)
    types, rest = _read(_TYPE, rest, _resolve_type)
    if rest == query:
        return ParsedQuery(query)
    return ParsedQuery(
        text=_content_words(rest),
        since=max((since for since, _ in times), default=None),
        until=min((until for _, until in times), default=None),
        languages=frozenset[str]().union(*types),
        path_prefixes=tuple(dict.fromkeys(prefix for found in places for prefix in found)),
    )


def _read(
    pattern: re.Pattern[str], text: str, resolve: Callable[[re.Match[str]], T | None]
) -> tuple[list[T], str]:
    """What `resolve` makes of each match of `pattern` in `text`, and the text
    without the matches it resolved (the others stay, as words to search for)."""
    found: list[T] = []
    pieces: list[str] = []
    end = 0
    for match in pattern.finditer(text):
        value = resolve(match)
        if value is not None:
            found.append(value)
            pieces += [text[end : match.start()], " "]
            end = match.end()
    pieces.append(text[end:])
    return found, "".join(pieces)


# Places: (the words for it, the directories under home it may be, those that exist).
PLACES = (
    (
        r"projects?|repos|repositories",
        ("projects", "Projects", "src", "code", "dev", "repos", "git", "workspace"),
    ),
    (r"documents", ("Documents", "documents")),
    (r"downloads", ("Downloads", "downloads")),
    (r"desktop", ("Desktop", "desktop")),
    (r"notes", ("notes", "Notes")),
)
_PLACE = re.compile(
    r"(?<![\w/~])(?:in|under|inside|within|from|on)\s+(?:"
    + r"(?:my\s+|the\s+)?(?:"
    + "|".join(f"(?P<place{index}>{words})" for index, (words, _) in enumerate(PLACES))
    + r")(?:\s+(?:folders?|director(?:y|ies)|dirs?))?(?!\w)"
    + r"|(?P<path>~?/[^\s,;?!]*)"
    + r")",
    re.IGNORECASE,
)


def _resolve_place(match: re.Match[str], home: Path) -> tuple[Path, ...] | None:
    path = match["path"]
    if path is not None:
        named = home / path[2:] if path.startswith("~/") else Path(path)
        # Normalised, so that a prefix compares with indexed paths ("~/src/../work").
        return (Path(os.path.normpath(named)),)
    index = int((match.lastgroup or "").removeprefix("place"))
    existing = tuple(home / name for name in PLACES[index][1] if (home / name).is_dir())
    # None of them exists: the words stay, to be searched for.
    return existing or None


_WEEKDAY = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTH = "january|february|march|april|may|june|july|august|september|october|november|december"
_PART_OF_DAY = "morning|afternoon|evening|night"
_COUNT = r"\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_UNIT = r"(?:minute|hour|day|week|month|year)s?"
_ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"\d{4}"
# A time that names its day, week, month or year by itself; a month or year
# alone ("may", "2024") counts only after a preposition (`_TIME`).
_POINT = "|".join(
    [
        rf"(?:today|yesterday|(?:the\s+)?day\s+before\s+yesterday|(?:last\s+)?(?:{_WEEKDAY}))"
        rf"(?:\s+(?:{_PART_OF_DAY}))?",
        rf"(?:this|last)\s+(?:{_PART_OF_DAY})|tonight",
        r"(?:this|last|past|previous)\s+(?:week|month|year)",
        rf"(?:{_COUNT})\s+{_UNIT}\s+ago",
        rf"{_YEAR}-\d{{2}}-\d{{2}}",
        rf"(?:{_MONTH})\s+{_ORDINAL}(?:,?\s+{_YEAR})?",
        rf"{_ORDINAL}\s+(?:of\s+)?(?:{_MONTH})(?:,?\s+{_YEAR})?",
    ]
)
_TIME = re.compile(
    r"(?<!\w)(?:"
    rf"(?:(?:in|during|within|over)\s+)?(?:the\s+)?(?:last|past)\s+(?P<count>{_COUNT})\s+(?P<unit>{_UNIT})"
    rf"|(?:(?P<since>since)\s+|(?:from|on|in|during|of|at)\s+)?(?P<point>{_POINT})(?:['\u2019]s)?"
    rf"|(?:(?P<since_month>since)\s+|(?:from|in|during)\s+)"
    rf"(?P<month>(?:{_MONTH})(?:\s+{_YEAR})?|{_YEAR})"
    r")(?!\w)",
    re.IGNORECASE,
)

# Where each part of the day dateparser names begins and ends, in hours from
# that day's midnight: a night runs into the small hours of the next day.
_PARTS_OF_DAY = MappingProxyType(
    {
        "early_morning": (0, 5),
        "morning": (5, 12),
        "afternoon": (12, 18),
        "evening": (17, 23),
        "night": (18, 30),
    }
)


class _TimeResolver:
    """Resolves the time phrases of one query, relative to its `now`, into
    [since, until) in seconds since the epoch."""

    def __init__(self, now: datetime) -> None:
        self._zone = now.tzinfo
        # dateparser computes in naive wall-clock time; the zone comes back at the end.
        self._now = now.replace(tzinfo=None)
        self._parser = DateDataParser(
            languages=["en"],
            settings={"RELATIVE_BASE": self._now, "PREFER_DATES_FROM": "past"},
        )

    def resolve(self, match: re.Match[str]) -> tuple[float, float] | None:
        if match["count"] is not None:
            start = self._parser.get_date_data(f"{match['count']} {match['unit']} ago").date_obj
            return None if start is None else self._span(start, self._now)
        data = self._parser.get_date_data(match["point"] or match["month"])
        if data.date_obj is None:
            return None
        part_of_day = None if data.part_of_day is None else str(data.part_of_day.value)
        start, end = _covering(data.date_obj, str(data.period), part_of_day)
        if match["since"] or match["since_month"]:
            end = self._now
        return self._span(start, end)

    def _span(self, start: datetime, end: datetime) -> tuple[float, float]:
        return (
            start.replace(tzinfo=self._zone).timestamp(),
            end.replace(tzinfo=self._zone).timestamp(),
        )


def _covering(date: datetime, period: str, part_of_day: str | None) -> tuple[datetime, datetime]:
    """The day, week, month or year (dateparser's `period`), or part of the day, around date."""
    midnight = date.replace(hour=0, minute=0, second=0, microsecond=0)
    if part_of_day is not None:
        first, last = _PARTS_OF_DAY[part_of_day]
        return midnight + timedelta(hours=first), midnight + timedelta(hours=last)
    if period == "week":
        monday = midnight - timedelta(days=midnight.weekday())
        return monday, monday + timedelta(days=7)
    if period == "month":
        first_day = midnight.replace(day=1)
        return first_day, (first_day + timedelta(days=32)).replace(day=1)
    if period == "year":
        new_year = midnight.replace(month=1, day=1)
        return new_year, new_year.replace(year=new_year.year + 1)
    return midnight, midnight + timedelta(days=1)


# A noun after a language's name: "python script", "yaml files", "rust code".
_NOUN = r"\s+(?:files?|scripts?|code|source|programs?|modules?|documents?)"
# Types: (the words for it, the languages of the files it names). A name that
# is also an ordinary word or a topic ("go", "rust", "shell", "c", "sql")
# counts only with a noun after it.
TYPES: tuple[tuple[str, frozenset[str]], ...] = (
    (rf"python(?:{_NOUN})?|py\s+files?", frozenset({"python"})),
    (rf"(?:shell|bash|sh){_NOUN}", frozenset({"shell"})),
    (rf"(?:javascript|js)(?:{_NOUN})?", frozenset({"javascript"})),
    (rf"typescript(?:{_NOUN})?|ts{_NOUN}", frozenset({"typescript"})),
    (rf"(?:c\+\+|cpp){_NOUN}", frozenset({"cpp"})),
    (rf"c{_NOUN}", frozenset({"c"})),
    (rf"(?:go|golang){_NOUN}", frozenset({"go"})),
    (rf"rust{_NOUN}", frozenset({"rust"})),
    (rf"java{_NOUN}", frozenset({"java"})),
    (rf"ruby{_NOUN}", frozenset({"ruby"})),
    (rf"sql{_NOUN}", frozenset({"sql"})),
    (rf"html{_NOUN}", frozenset({"html"})),
    (rf"markdown(?:{_NOUN}|\s+notes)?|md\s+files?", frozenset({"markdown"})),
    (r"te?xt\s+files?", frozenset({"text"})),
    (r"notes?(?:\s+files?)?", languages_of(Category.NOTES)),
    (rf"pdfs?(?:{_NOUN})?", frozenset({"pdf"})),
    (
        r"config(?:uration)?s?(?:\s+files?)?|settings\s+files?",
        languages_of(Category.CONFIG),
    ),
    (rf"(?:yaml|yml)(?:{_NOUN})?", frozenset({"yaml"})),
    (rf"toml(?:{_NOUN})?", frozenset({"toml"})),
    (rf"json(?:{_NOUN})?", frozenset({"json"})),
    (rf"csv(?:{_NOUN})?", frozenset({"csv"})),
    (r"source\s+code|(?:source|code)\s+files?", languages_of(Category.CODE)),
    (r"scripts?", frozenset({"python", "shell", "javascript", "ruby", "perl", "lua"})),
)
_TYPE = re.compile(
    r"(?<![\w+#.])(?<!about\s)(?:"
    + "|".join(f"(?P<type{index}>{words})" for index, (words, _) in enumerate(TYPES))
    + r")(?![\w+#])",
    re.IGNORECASE,
)


def _resolve_type(match: re.Match[str]) -> frozenset[str]:
    return TYPES[int((match.lastgroup or "").removeprefix("type"))][1]


# What is left of a sentence once its filters are read, that names nothing to search for.
_STOP_WORDS = frozenset(
    """
    a an the this that these those some any all
    with from about of on in at to for by into over under
    i i'm me my mine we our you your
    and or
    is are was were be been am do does did have has had
    find show search look looking get list open give where what which who when
    file files
    edited changed modified wrote written saved created made worked
    """.split()  # noqa: SIM905 - a list literal of 70 words would take 70 lines
)
_PUNCTUATION = ".,;:!?\"'()[]{}\u201c\u201d\u2018\u2019"


def _content_words(text: str) -> str:
    words = (word.strip(_PUNCTUATION) for word in text.split())
    return " ".join(word for word in words if word and word.lower() not in _STOP_WORDS)
