"""A path's language, MIME type, category and chunking format."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from noosd.index.core.filetypes import PLAIN_TEXT, Category, Format, file_type, languages_of


@pytest.mark.parametrize(
    ("name", "language", "file_format"),
    [
        ("tool.py", "python", Format.PYTHON),
        ("NOTES.MD", "markdown", Format.MARKDOWN),
        ("taxes.pdf", "pdf", Format.PDF),
        ("pyproject.toml", "toml", Format.BLOCKS),
        ("noosd@.service", "ini", Format.BLOCKS),
        ("Makefile", "make", Format.BLOCKS),
        (".bashrc", "shell", Format.BLOCKS),
        ("main.rs", "rust", Format.BLOCKS),
    ],
)
def test_a_type_by_suffix_or_whole_name(name: str, language: str, file_format: Format) -> None:
    found = file_type(PurePath("/home/user") / name)

    assert (found.language, found.format) == (language, file_format)


def test_a_shebang_names_the_language_of_a_script_without_a_suffix() -> None:
    assert file_type(PurePath("bin/backup"), b"#!/usr/bin/env python3\nimport os\n").language == (
        "python"
    )
    assert file_type(PurePath("bin/deploy"), b"#!/bin/bash -e\n").language == "shell"
    assert file_type(PurePath("bin/odd"), b"#!/usr/bin/tclsh\n") == PLAIN_TEXT


def test_anything_else_is_plain_text() -> None:
    assert file_type(PurePath("LICENSE")) == PLAIN_TEXT
    assert PLAIN_TEXT.mime == "text/plain"


def test_categories_group_languages_for_queries() -> None:
    assert languages_of(Category.CONFIG) == {"yaml", "toml", "ini", "json", "conf"}
    assert languages_of(Category.NOTES) == {"markdown", "text", "rst", "org"}
    assert {"python", "shell", "rust"} <= languages_of(Category.CODE)
    assert "pdf" not in languages_of(Category.CODE)
