"""Cutting files into chunks: along Python definitions, Markdown headings,
blank lines and PDF pages, with the right line numbers, and never too long."""

from __future__ import annotations

import io
import re
from pathlib import Path, PurePath

import pypdf
import pytest

from noosd.index.core.chunking import (
    BINARY_SNIFF_BYTES,
    Chunk,
    Unindexable,
    chunk_blocks,
    chunk_file,
    chunk_markdown,
    chunk_pdf,
    chunk_python,
    is_binary,
)
from noosd.index.core.filetypes import file_type
from tests.unit.index.pdfs import pdf_with_text


def spans(chunks: tuple[Chunk, ...]) -> list[tuple[int, int]]:
    return [(chunk.start_line, chunk.end_line) for chunk in chunks]


def assert_lines_match(chunks: tuple[Chunk, ...], text: str) -> None:
    """Each chunk's text is exactly its lines of `text`."""
    lines = text.split("\n")
    for chunk in chunks:
        assert chunk.text == "\n".join(lines[chunk.start_line - 1 : chunk.end_line])


PYTHON = '''\
"""A module."""

import os

CONSTANT = 1


# Reads the thing.
@decorator
def first(x):
    return x


class Second:
    def method(self):
        return 2

# The end.
'''


def test_python_definitions_become_chunks_with_their_comments_and_decorators() -> None:
    chunks = chunk_python(PYTHON)

    assert spans(chunks) == [(1, 5), (8, 11), (14, 16), (18, 18)]
    assert chunks[1].text.startswith("# Reads the thing.\n@decorator\ndef first(x):")
    assert chunks[2].text.startswith("class Second:")
    assert_lines_match(chunks, PYTHON)


def test_a_python_class_too_long_for_one_chunk_is_cut_along_its_methods() -> None:
    methods = "\n".join(
        f"    def method_{n}(self):\n" + "".join(f"        x = {i}\n" for i in range(10))
        for n in range(3)
    )
    source = f'import os\n\n\nclass Big:\n    """Big."""\n\n{methods}'
    method_lines = [
        index + 1 for index, line in enumerate(source.split("\n")) if "def method_" in line
    ]

    chunks = chunk_python(source, max_chars=300)

    assert spans(chunks)[0] == (1, 1)
    assert chunks[1].text == 'class Big:\n    """Big."""'
    assert [chunk.start_line for chunk in chunks[2:]] == method_lines
    assert all(len(chunk.text) <= 300 for chunk in chunks)
    assert_lines_match(chunks, source)


def test_python_that_does_not_parse_is_chunked_by_blocks() -> None:
    source = "def broken(:\n    pass\n\nprint('still indexed')\n"

    chunks = chunk_python(source, min_chars=0)

    assert spans(chunks) == [(1, 2), (4, 4)]


def test_markdown_is_chunked_by_headings_but_not_inside_fenced_code() -> None:
    text = (
        "Intro line.\n"
        "\n"
        "# Title\n"
        "\n"
        "Text under the title.\n"
        "```sh\n"
        "# a comment, not a heading\n"
        "```\n"
        "\n"
        "## Section two\n"
        "More.\n"
    )

    chunks = chunk_markdown(text)

    assert spans(chunks) == [(1, 1), (3, 8), (10, 11)]
    assert chunks[1].text.startswith("# Title")
    assert chunks[2].text == "## Section two\nMore."


def test_text_blocks_shorter_than_the_minimum_join_the_next_while_they_fit() -> None:
    big = ("a long paragraph " * 5).strip()  # 84 characters
    text = "\n\n".join(["one", "two", "three", big, "tail", "end"]) + "\n"

    chunks = chunk_blocks(text, max_chars=100, min_chars=20)

    # one, two and three join (15 characters, still short), but the long
    # paragraph would overflow their chunk, so it starts its own; being long
    # enough, it ends it too, and the short tail joins what follows it.
    assert [chunk.text for chunk in chunks] == ["one\n\ntwo\n\nthree", big, "tail\n\nend"]
    assert spans(chunks) == [(1, 5), (7, 7), (9, 11)]


def test_no_chunk_is_longer_than_the_limit_and_nothing_is_lost() -> None:
    text = "\n\n".join(
        [
            "short paragraph",
            "\n".join(f"line {n} of a long block of text" for n in range(100)),
            "x" * 1000,  # one line longer than the limit
            "end",
        ]
    )

    chunks = chunk_blocks(text, max_chars=300, min_chars=50)

    assert all(len(chunk.text) <= 300 for chunk in chunks)
    assert "".join(re.sub(r"\s", "", chunk.text) for chunk in chunks) == re.sub(r"\s", "", text)
    long_line = 3 + 100 + 1
    assert [chunk.start_line for chunk in chunks if chunk.text.startswith("x")] == [long_line] * 4


def test_line_numbers_count_newlines_only_and_carriage_returns_are_dropped() -> None:
    chunks = chunk_blocks("first\r\nsecond\r\n\r\nthird\fstill third\r\n", min_chars=0)

    assert [(chunk.text, chunk.start_line, chunk.end_line) for chunk in chunks] == [
        ("first\nsecond", 1, 2),
        ("third\fstill third", 4, 4),
    ]


def test_a_chunk_is_named_by_its_text_not_by_where_it_is() -> None:
    here = Chunk("same text", 1, 3)
    there = Chunk("same text", 10, 12, page=2)

    assert here.content_hash == there.content_hash
    assert here.content_hash != Chunk("other text", 1, 3).content_hash
    assert re.fullmatch(r"[0-9a-f]{32}", here.content_hash)


def test_pdf_text_is_chunked_per_page() -> None:
    data = pdf_with_text([["Invoice for taxes", "Total: 42 EUR"], ["Second page"]])

    chunks = chunk_pdf(data)

    assert [(chunk.page, chunk.start_line, chunk.text) for chunk in chunks] == [
        (1, 1, "Invoice for taxes\nTotal: 42 EUR"),
        (2, 1, "Second page"),
    ]


def test_chunk_file_reads_a_pdf_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "taxes.pdf"
    path.write_bytes(pdf_with_text([["Tax return 2025"]]))

    chunks = chunk_file(path.read_bytes(), file_type(path))

    assert [chunk.text for chunk in chunks] == ["Tax return 2025"]


def test_an_encrypted_or_broken_pdf_is_unindexable() -> None:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret", algorithm="RC4-128")
    encrypted = io.BytesIO()
    writer.write(encrypted)

    with pytest.raises(Unindexable, match="encrypted"):
        chunk_pdf(encrypted.getvalue())
    with pytest.raises(Unindexable, match="unreadable PDF"):
        chunk_pdf(b"%PDF-1.4\nthis is not a PDF at all")


def test_binary_content_is_recognised_by_a_nul_byte_near_the_start() -> None:
    assert is_binary(b"\x7fELF\x02\x01\x01\x00")
    assert not is_binary("héllo wörld\n".encode())
    assert not is_binary(b"x" * BINARY_SNIFF_BYTES + b"\0")
    with pytest.raises(Unindexable, match="binary"):
        chunk_file(b"text\0more", file_type(PurePath("notes.txt")))


def test_chunk_file_picks_the_chunker_by_type_and_decodes_leniently() -> None:
    source = b"\xef\xbb\xbfdef f():\n    return '\xff'\n\n\ndef g():\n    pass\n"

    chunks = chunk_file(source, file_type(PurePath("bad.py")))

    assert spans(chunks) == [(1, 2), (5, 6)]
    assert chunks[0].text == "def f():\n    return '\ufffd'"
    assert chunk_file(b"", file_type(PurePath("empty.md"))) == ()
