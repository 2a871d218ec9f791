"""What to show of a found chunk: the few lines that hold most of the query's words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from noosd.index.core.chunking import Chunk

MAX_SNIPPET_LINES = 6
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Snippet:
    """Lines start_line to end_line (1-based, inclusive) of a file, on `page` of a PDF."""

    start_line: int
    end_line: int
    lines: tuple[str, ...]
    page: int | None

    def numbered(self) -> str:
        """The lines, each after its number, as `grep -n` and editors count them."""
        width = len(str(self.end_line))
        return "\n".join(
            f"{number:>{width}}  {line}"
            for number, line in enumerate(self.lines, start=self.start_line)
        )


def snippet(chunk: Chunk, query: str, max_lines: int = MAX_SNIPPET_LINES) -> Snippet:
    """The window of at most max_lines lines of the chunk where most distinct
    words of the query appear (as words or word beginnings: "bug" finds
    "bugs", case aside), the earliest of equals; the first lines when none
    does (a match of meaning alone)."""
    lines = chunk.text.split("\n")
    terms = {term.lower() for term in _WORD.findall(query)}
    found = [_terms_in(line, terms) for line in lines]
    best_start, best_count = 0, 0
    for start in range(max(1, len(lines) - max_lines + 1)):
        count = len(set[str]().union(*found[start : start + max_lines]))
        if count > best_count:
            best_start, best_count = start, count
    window = tuple(lines[best_start : best_start + max_lines])
    first = chunk.start_line + best_start
    return Snippet(first, first + len(window) - 1, window, chunk.page)


def _terms_in(line: str, terms: set[str]) -> set[str]:
    words = [word.lower() for word in _WORD.findall(line)]
    return {term for term in terms if any(word.startswith(term) for word in words)}
