"""Cutting a file's content into chunks, the units that are embedded and found.

A chunk is a run of whole lines (1-based, inclusive; on a page, for a PDF) of
at most `MAX_CHUNK_CHARS` characters; chunks do not overlap. Where a chunk
ends depends only on the text near it, so that an edit changes the chunks
around it and no others, and `changes` re-embeds only those:

- Python: each top-level function or class on its own, with the comments and
  decorators above it; the statements between definitions together; a class
  too long for one chunk is cut along its own body the same way.
- Markdown: one chunk per heading's section (ATX headings, `#` to `######`,
  outside fenced code).
- Everything else (text, other code, configuration, a PDF page's text): the
  blocks between blank lines, where a block shorter than `MIN_CHUNK_CHARS`
  takes the next ones in while they fit. A block of at least that size always
  ends its chunk, so chunk boundaries fall back into step after an edit.

Whatever is still too long is cut between blocks, then between lines, and a
single line longer than the limit into slices. Lines are split at "\\n" only
(a trailing "\\r" dropped), as editors and `grep -n` count them.
"""

from __future__ import annotations

import ast
import hashlib
import io
import itertools
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

from noosd.index.core.filetypes import FileType, Format

MAX_CHUNK_CHARS = 1500
MIN_CHUNK_CHARS = 200
# Characters of a PDF's text indexed, from its first page on: a long book's
# worth (~400 dense pages); the rest of a larger one is left out.
MAX_PDF_TEXT_CHARS = 2**20
# Like git and grep: a NUL byte in the first 8 KiB makes a file binary.
BINARY_SNIFF_BYTES = 8192


class Unindexable(Exception):
    """A file's content cannot be chunked (binary, an unreadable PDF); the message says why."""


def content_hash(data: bytes) -> str:
    """The hash that names a chunk's text (or a file's bytes): 128-bit BLAKE2b, in hex."""
    return content_hasher(data).hexdigest()


def content_hasher(data: bytes = b"") -> hashlib.blake2b:
    """`content_hash`'s hash, to be fed a file a block at a time."""
    return hashlib.blake2b(data, digest_size=16)


@dataclass(frozen=True)
class Chunk:
    """A run of a file's lines, start_line to end_line (1-based, inclusive), on
    `page` for a PDF (1-based; None otherwise).

    `content_hash` names the text alone, not where it is: a chunk that moved
    (lines inserted above it) keeps its embedding.
    """

    text: str
    start_line: int
    end_line: int
    page: int | None = None
    content_hash: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "content_hash", content_hash(self.text.encode()))


def is_binary(head: bytes) -> bool:
    """Whether content starting with `head` is binary rather than text."""
    return b"\0" in head[:BINARY_SNIFF_BYTES]


def chunk_file(
    source: bytes | BinaryIO,
    file_type: FileType,
    max_chars: int = MAX_CHUNK_CHARS,
    min_chars: int = MIN_CHUNK_CHARS,
    max_pdf_text_chars: int = MAX_PDF_TEXT_CHARS,
) -> tuple[Chunk, ...]:
    """The chunks of a file of this type with this content (its bytes, or
    the open file: a PDF is read as pypdf needs it).

    Raises `Unindexable` for binary content, or a PDF that pypdf cannot read.
    Text is UTF-8 (a byte-order mark dropped); what does not decode becomes U+FFFD.
    """
    if file_type.format is Format.PDF:
        return chunk_pdf(source, max_chars, min_chars, max_pdf_text_chars)
    data = source if isinstance(source, bytes) else source.read()
    if is_binary(data):
        raise Unindexable(f"binary content (a NUL byte in the first {BINARY_SNIFF_BYTES} bytes)")
    text = data.decode("utf-8-sig", errors="replace")
    if file_type.format is Format.PYTHON:
        return chunk_python(text, max_chars, min_chars)
    if file_type.format is Format.MARKDOWN:
        return chunk_markdown(text, max_chars)
    return chunk_blocks(text, max_chars, min_chars)


def chunk_blocks(
    text: str,
    max_chars: int = MAX_CHUNK_CHARS,
    min_chars: int = MIN_CHUNK_CHARS,
    page: int | None = None,
) -> tuple[Chunk, ...]:
    """Blank-line-separated blocks, the short ones joined (see the module's docstring)."""
    lines = _Lines(text)
    units = _pack(lines, lines.blocks(lines.whole), min_chars, max_chars)
    return _chunks(lines, units, max_chars, page)


def chunk_python(
    source: str, max_chars: int = MAX_CHUNK_CHARS, min_chars: int = MIN_CHUNK_CHARS
) -> tuple[Chunk, ...]:
    """Top-level definitions; source that does not parse is chunked as blocks."""
    lines = _Lines(source)
    try:
        with warnings.catch_warnings():
            # A file's invalid escapes ("\d" in a str) are its author's concern, not the log's.
            warnings.simplefilter("ignore", SyntaxWarning)
            # Parse the lines as split here, so that ast's line numbers are ours.
            tree = ast.parse(lines.text(lines.whole))
    except (SyntaxError, ValueError, RecursionError):
        # ValueError: NUL bytes; RecursionError: absurdly deep nesting.
        return chunk_blocks(source, max_chars, min_chars)
    units = _python_units(lines, tree.body, lines.whole, max_chars)
    return _chunks(lines, units, max_chars, None)


def chunk_markdown(text: str, max_chars: int = MAX_CHUNK_CHARS) -> tuple[Chunk, ...]:
    """One chunk per section, from a heading to the next."""
    lines = _Lines(text)
    starts = [0, *_markdown_headings(lines.lines)]
    ends = [*starts[1:], len(lines.lines)]
    units = [_Span(start, end) for start, end in zip(starts, ends, strict=True)]
    return _chunks(lines, units, max_chars, None)


def chunk_pdf(
    source: bytes | BinaryIO,
    max_chars: int = MAX_CHUNK_CHARS,
    min_chars: int = MIN_CHUNK_CHARS,
    max_text_chars: int = MAX_PDF_TEXT_CHARS,
) -> tuple[Chunk, ...]:
    """Each page's text (pypdf's extraction) as blocks, with the page's
    number, page by page until `max_text_chars` of text: what a PDF costs in
    memory and in embedding is bounded by that, not by its pages (extracting
    all of a 64 MiB PDF of text took 312 MiB and minutes, and would have
    taken hours to embed)."""
    # Imported here: pypdf is needed only when a PDF is indexed, and importing
    # this module should stay cheap for the query side.
    import pypdf

    chunks: list[Chunk] = []
    left = max_text_chars
    try:
        reader = pypdf.PdfReader(io.BytesIO(source) if isinstance(source, bytes) else source)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unindexable("an encrypted PDF")
        for number, page in enumerate(reader.pages, start=1):
            if left <= 0:
                break
            text = page.extract_text()[:left]
            left -= len(text)
            chunks += chunk_blocks(text, max_chars, min_chars, page=number)
    except Unindexable:
        raise
    except Exception as error:
        # pypdf raises many kinds of error on malformed files, not only PyPdfError.
        raise Unindexable(f"an unreadable PDF ({type(error).__name__}: {error})") from error
    return tuple(chunks)


class _Span(NamedTuple):
    """Lines start to end: 0-based, end excluded."""

    start: int
    end: int


class _Lines:
    """A text's lines, and the size in characters of any run of them."""

    def __init__(self, text: str) -> None:
        self.lines = [line.removesuffix("\r") for line in text.split("\n")]
        self.whole = _Span(0, len(self.lines))
        # offsets[i]: where line i starts in the lines joined with "\n".
        self._offsets = list(itertools.accumulate((len(s) + 1 for s in self.lines), initial=0))

    def size(self, span: _Span) -> int:
        return self._offsets[span.end] - self._offsets[span.start] - 1

    def text(self, span: _Span) -> str:
        return "\n".join(self.lines[span.start : span.end])

    def is_blank(self, index: int) -> bool:
        return not self.lines[index].strip()

    def trim(self, span: _Span) -> _Span | None:
        """The span without its leading and trailing blank lines; None if nothing is left."""
        start, end = span
        while start < end and self.is_blank(start):
            start += 1
        while end > start and self.is_blank(end - 1):
            end -= 1
        return _Span(start, end) if start < end else None

    def blocks(self, span: _Span) -> list[_Span]:
        """The runs of non-blank lines in the span."""
        blocks: list[_Span] = []
        start: int | None = None
        for index in range(span.start, span.end):
            if self.is_blank(index):
                if start is not None:
                    blocks.append(_Span(start, index))
                start = None
            elif start is None:
                start = index
        if start is not None:
            blocks.append(_Span(start, span.end))
        return blocks


def _pack(lines: _Lines, spans: Iterable[_Span], min_chars: int, max_chars: int) -> list[_Span]:
    """Consecutive spans joined: one shorter than min_chars takes the next while it fits."""
    packed: list[_Span] = []
    for span in spans:
        if packed and lines.size(packed[-1]) < min_chars:
            joined = _Span(packed[-1].start, span.end)
            if lines.size(joined) <= max_chars:
                packed[-1] = joined
                continue
        packed.append(span)
    return packed


def _chunks(
    lines: _Lines, units: Iterable[_Span], max_chars: int, page: int | None
) -> tuple[Chunk, ...]:
    return tuple(
        itertools.chain.from_iterable(_fit(lines, unit, max_chars, page) for unit in units)
    )


def _fit(lines: _Lines, span: _Span, max_chars: int, page: int | None) -> Iterator[Chunk]:
    """The span as chunks of at most max_chars: whole, or cut between blocks,
    then between lines, then within a line."""
    trimmed = lines.trim(span)
    if trimmed is None:
        return
    if lines.size(trimmed) <= max_chars:
        yield Chunk(lines.text(trimmed), trimmed.start + 1, trimmed.end, page)
        return
    pieces = lines.blocks(trimmed)
    if len(pieces) == 1:
        # One block: as many whole lines as fit in each chunk.
        pieces = [_Span(index, index + 1) for index in range(trimmed.start, trimmed.end)]
        if len(pieces) == 1:
            yield from _slices(lines.lines[trimmed.start], trimmed.start + 1, max_chars, page)
            return
    for packed in _pack(lines, pieces, max_chars, max_chars):
        yield from _fit(lines, packed, max_chars, page)


def _slices(line: str, number: int, max_chars: int, page: int | None) -> Iterator[Chunk]:
    """A line too long for one chunk (minified code, a data dump), cut every max_chars."""
    for offset in range(0, len(line), max_chars):
        yield Chunk(line[offset : offset + max_chars], number, number, page)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _python_units(
    lines: _Lines, body: Sequence[ast.stmt], span: _Span, max_chars: int
) -> Iterator[_Span]:
    """The units of a module's (or a class's) body within span: each definition
    with what precedes it since the previous statement (its comments and
    decorators), each run of other statements, and what follows the last."""
    cursor = span.start
    run_start: int | None = None
    for node in body:
        end = node.end_lineno or node.lineno
        if isinstance(node, _DEFINITIONS):
            if run_start is not None:
                yield _Span(run_start, cursor)
                run_start = None
            definition = _Span(cursor, end)
            if isinstance(node, ast.ClassDef) and lines.size(definition) > max_chars:
                yield from _python_units(lines, node.body, definition, max_chars)
            else:
                yield definition
        elif run_start is None:
            run_start = cursor
        cursor = end
    if run_start is not None:
        yield _Span(run_start, cursor)
    if cursor < span.end:
        yield _Span(cursor, span.end)


_ATX_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def _markdown_headings(lines: Sequence[str]) -> Iterator[int]:
    """The indexes of the heading lines after the first line, outside fenced code."""
    fence: str | None = None
    for index, line in enumerate(lines):
        opening = _FENCE.match(line)
        if fence is None:
            if opening is not None:
                fence = opening[1]
            elif index > 0 and _ATX_HEADING.match(line):
                yield index
        elif (
            opening is not None
            and len(line.strip()) >= len(fence)
            and set(line.strip()) == {fence[0]}
        ):
            # A closing fence: the opening's character, at least as many, nothing else.
            fence = None
