"""What kind of file a path is: its language, MIME type, and how it is chunked.

The vocabulary is a fixed table rather than `mimetypes`, whose answers come
from the host's /etc/mime.types and so differ from machine to machine: a
file's language is a search filter ("python script", "config files"), and it
must not change when the index moves. A file the table does not name is
plain text unless a shebang says otherwise; binary content is refused later,
when it is chunked (`chunking.is_binary`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from types import MappingProxyType


class Format(enum.Enum):
    """How a file is cut into chunks (`chunking`)."""

    PYTHON = "python"  # along top-level definitions, with `ast`
    MARKDOWN = "markdown"  # by headings
    BLOCKS = "blocks"  # by blank-line-separated blocks: paragraphs, or code
    PDF = "pdf"  # the text of each page, by blocks


class Category(enum.Enum):
    """What a file is for; a query names languages by these ("notes", "config")."""

    NOTES = "notes"
    DOCUMENT = "document"
    CONFIG = "config"
    DATA = "data"
    CODE = "code"


@dataclass(frozen=True)
class FileType:
    """A file's language (the search vocabulary's name for it), MIME type,
    category, and how it is chunked."""

    language: str
    mime: str
    category: Category
    format: Format


@dataclass(frozen=True)
class _Language:
    file_type: FileType
    suffixes: tuple[str, ...]
    names: tuple[str, ...]


def _language(
    category: Category,
    name: str,
    mime: str,
    suffixes: Iterable[str] = (),
    names: Iterable[str] = (),
    file_format: Format = Format.BLOCKS,
) -> _Language:
    return _Language(FileType(name, mime, category, file_format), tuple(suffixes), tuple(names))


# Short names for the table's rows.
_NOTES, _DOCUMENT, _CONFIG = Category.NOTES, Category.DOCUMENT, Category.CONFIG
_DATA, _CODE = Category.DATA, Category.CODE
_LANGUAGES = (
    _language(
        _NOTES, "markdown", "text/markdown", [".md", ".markdown"], file_format=Format.MARKDOWN
    ),
    _language(_NOTES, "text", "text/plain", [".txt", ".text"], ["README", "NEWS", "TODO"]),
    _language(_NOTES, "rst", "text/x-rst", [".rst"]),
    _language(_NOTES, "org", "text/x-org", [".org"]),
    _language(_DOCUMENT, "pdf", "application/pdf", [".pdf"], file_format=Format.PDF),
    _language(_DOCUMENT, "latex", "text/x-tex", [".tex", ".bib"]),
    _language(_CONFIG, "yaml", "application/yaml", [".yaml", ".yml"]),
    _language(_CONFIG, "toml", "application/toml", [".toml"]),
    _language(
        _CONFIG,
        "ini",
        "text/x-ini",
        [".ini", ".cfg", ".service", ".socket", ".timer", ".mount", ".network", ".desktop"],
        [".editorconfig", ".gitconfig"],
    ),
    _language(_CONFIG, "json", "application/json", [".json", ".jsonc"]),
    _language(_CONFIG, "conf", "text/plain", [".conf"]),
    _language(_DATA, "csv", "text/csv", [".csv", ".tsv"]),
    _language(_DATA, "xml", "application/xml", [".xml", ".svg", ".xsd"]),
    _language(_CODE, "python", "text/x-python", [".py", ".pyi", ".pyw"], file_format=Format.PYTHON),
    _language(
        _CODE,
        "shell",
        "text/x-shellscript",
        [".sh", ".bash", ".zsh", ".fish"],
        [".bashrc", ".bash_profile", ".profile", ".zshrc"],
    ),
    _language(_CODE, "javascript", "text/javascript", [".js", ".mjs", ".cjs", ".jsx"]),
    _language(_CODE, "typescript", "text/x-typescript", [".ts", ".tsx", ".mts"]),
    _language(_CODE, "c", "text/x-c", [".c", ".h"]),
    _language(_CODE, "cpp", "text/x-c++", [".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx"]),
    _language(_CODE, "rust", "text/x-rust", [".rs"]),
    _language(_CODE, "go", "text/x-go", [".go"]),
    _language(_CODE, "java", "text/x-java", [".java"]),
    _language(_CODE, "kotlin", "text/x-kotlin", [".kt", ".kts"]),
    _language(_CODE, "csharp", "text/x-csharp", [".cs"]),
    _language(_CODE, "ruby", "text/x-ruby", [".rb"], ["Rakefile", "Gemfile"]),
    _language(_CODE, "perl", "text/x-perl", [".pl", ".pm"]),
    _language(_CODE, "php", "text/x-php", [".php"]),
    _language(_CODE, "lua", "text/x-lua", [".lua"]),
    _language(_CODE, "haskell", "text/x-haskell", [".hs"]),
    _language(_CODE, "ocaml", "text/x-ocaml", [".ml", ".mli"]),
    _language(_CODE, "elisp", "text/x-emacs-lisp", [".el"]),
    _language(_CODE, "r", "text/x-r", [".r"]),
    _language(_CODE, "julia", "text/x-julia", [".jl"]),
    _language(_CODE, "swift", "text/x-swift", [".swift"]),
    _language(_CODE, "scala", "text/x-scala", [".scala"]),
    _language(_CODE, "sql", "application/sql", [".sql"]),
    _language(_CODE, "html", "text/html", [".html", ".htm"]),
    _language(_CODE, "css", "text/css", [".css", ".scss", ".sass", ".less"]),
    _language(_CODE, "nix", "text/x-nix", [".nix"]),
    _language(_CODE, "make", "text/x-makefile", [".mk"], ["Makefile", "GNUmakefile"]),
    _language(_CODE, "cmake", "text/x-cmake", [".cmake"], ["CMakeLists.txt"]),
    _language(_CODE, "dockerfile", "text/x-dockerfile", [], ["Dockerfile", "Containerfile"]),
)

# Suffixes compare in lower case (NOTES.MD is Markdown); whole names as written.
_BY_SUFFIX = MappingProxyType(
    {suffix: lang.file_type for lang in _LANGUAGES for suffix in lang.suffixes}
)
_BY_NAME = MappingProxyType({name: lang.file_type for lang in _LANGUAGES for name in lang.names})
_BY_LANGUAGE = MappingProxyType({lang.file_type.language: lang.file_type for lang in _LANGUAGES})

LANGUAGES = frozenset(_BY_LANGUAGE)
PLAIN_TEXT = _BY_LANGUAGE["text"]


def languages_of(category: Category) -> frozenset[str]:
    """The languages of a category: `languages_of(Category.CONFIG)` is yaml, toml, ini..."""
    return frozenset(ft.language for ft in _BY_LANGUAGE.values() if ft.category is category)


# "#!/usr/bin/env python3", "#!/bin/bash -e": the interpreter's name, without a version.
_SHEBANG = re.compile(rb"#![ \t]*(?:\S*/)?(?:env[ \t]+(?:-\S+[ \t]+)*)?([A-Za-z]+)")
_INTERPRETERS = MappingProxyType(
    {
        b"python": "python",
        b"sh": "shell",
        b"bash": "shell",
        b"dash": "shell",
        b"zsh": "shell",
        b"node": "javascript",
        b"ruby": "ruby",
        b"perl": "perl",
        b"lua": "lua",
    }
)


def file_type(path: PurePath, head: bytes = b"") -> FileType:
    """The type of the file at `path`, whose content starts with `head`.

    By whole name first (Makefile), then by suffix, then by a shebang in
    `head`; anything else is plain text.
    """
    by_name = _BY_NAME.get(path.name) or _BY_SUFFIX.get(path.suffix.lower())
    if by_name is not None:
        return by_name
    shebang = _SHEBANG.match(head)
    if shebang is not None:
        language = _INTERPRETERS.get(shebang[1])
        if language is not None:
            return _BY_LANGUAGE[language]
    return PLAIN_TEXT
