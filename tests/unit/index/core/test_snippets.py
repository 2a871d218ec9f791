"""The lines of a found chunk to show, with their numbers."""

from __future__ import annotations

from noosd.index.core.chunking import Chunk
from noosd.index.core.snippets import Snippet, snippet

CHUNK = Chunk(
    "\n".join(
        [
            "def load(path):",
            "    data = read(path)",
            "    # Known bug: fails on empty files",
            "    return parse(data)",
            "",
            "",
            "def parse(data):",
            "    if not data:",
            "        raise ValueError('empty file')",
            "    return data.split()",
        ]
    ),
    start_line=40,
    end_line=49,
)


def test_the_snippet_is_the_window_with_most_query_words() -> None:
    found = snippet(CHUNK, "the bug: parse of empty data", max_lines=3)

    assert (found.start_line, found.end_line) == (41, 43)
    assert found.lines == (
        "    data = read(path)",
        "    # Known bug: fails on empty files",
        "    return parse(data)",
    )


def test_query_words_match_the_beginning_of_words_in_any_case() -> None:
    found = snippet(CHUNK, "VALUEERR", max_lines=1)

    assert found.start_line == 48


def test_a_match_of_meaning_alone_shows_the_first_lines() -> None:
    found = snippet(CHUNK, "deserialise the configuration", max_lines=2)

    assert found == Snippet(40, 41, ("def load(path):", "    data = read(path)"), None)


def test_a_short_chunk_is_shown_whole_with_numbers_aligned() -> None:
    chunk = Chunk("first\nsecond", start_line=9, end_line=10, page=3)

    found = snippet(chunk, "second")

    assert found == Snippet(9, 10, ("first", "second"), 3)
    assert found.numbered() == " 9  first\n10  second"
