"""The wire contract of org.noos.Index1: search the files you may read.

Search acts for the calling uid, taken from the bus: it returns only files
that user could open now. Root may search as another user only by naming it
in the `for_uid` option, which the service logs. A hit travels as `(path,
score, snippet, start_line, end_line, mtime, language, details)`; IndexFile
answers `(embedded, kept, dropped, skipped)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant

from noos.protocol.options import InterfaceKeys, Option, OptionTable

BUS_NAME = "org.noos.Index1"
OBJECT_PATH = "/org/noos/Index1"
INTERFACE = "org.noos.Index1"

HIT_SIGNATURE = "(sdsuudsa{sv})"
INDEXED_SIGNATURE = "(uuus)"

SEARCH_OPTIONS = OptionTable(
    "option", Option("for_uid", "u", "search as this user (root, or as polkit allows; logged)")
)
HIT_DETAILS = OptionTable(
    "detail",
    Option("page", "u", "the page of a PDF the snippet is on"),
    Option("device", "s", "the removable medium the file is on"),
)

KEYS = InterfaceKeys(
    INTERFACE,
    arguments={("Search", "options"): SEARCH_OPTIONS},
    replies={"Search": HIT_DETAILS},
)

HitFields = tuple[str, float, str, int, int, float, str, dict[str, Variant]]
IndexedFields = tuple[int, int, int, str]


@dataclass(frozen=True)
class FileHit:
    """A file found by a search: lines start_line to end_line of it are the
    snippet, each after its number; `page` is the page of a PDF, `device`
    the removable medium the file is on."""

    path: str
    score: float
    snippet: str
    start_line: int
    end_line: int
    mtime: float
    language: str
    page: int | None = None
    device: str | None = None


@dataclass(frozen=True)
class IndexedFile:
    """What IndexFile did: chunks embedded, kept and dropped; why the file
    was not indexed (None when it was)."""

    embedded: int
    kept: int
    dropped: int
    skipped: str | None


@dataclass(frozen=True)
class IndexStatus:
    files_indexed: int
    queued: int
    failed: int
    bytes: int
    roots: tuple[str, ...]
    crawling: bool


PROGRESS_SIGNATURE = "uu"


@dataclass(frozen=True)
class IndexProgress:
    """A Progress signal, as the watcher's user is told it. For root: files
    indexed since the service started (not the files in the index: `status`
    says those), and files waiting. For anyone else: their files in the
    index and their files waiting (`status`'s `files_indexed` and `queued`):
    the index's work on other users' files is none of theirs."""

    files_done: int
    queued: int


def progress_of(body: Iterable[Any]) -> IndexProgress:
    files_done, queued = body
    return IndexProgress(int(files_done), int(queued))


def hit_of(fields: Iterable[Any]) -> FileHit:
    """A FileHit from one struct of Search."""
    path, score, snippet, start, end, mtime, language, details = fields
    page, device = details.get("page"), details.get("device")
    return FileHit(
        path=path,
        score=score,
        snippet=snippet,
        start_line=start,
        end_line=end,
        mtime=mtime,
        language=language,
        page=None if page is None else int(page.value),
        device=None if device is None else str(device.value),
    )


def hit_struct(hit: FileHit) -> HitFields:
    """The struct of `hit`, as Search sends it."""
    return (
        hit.path,
        hit.score,
        hit.snippet,
        hit.start_line,
        hit.end_line,
        hit.mtime,
        hit.language,
        HIT_DETAILS.encode({"page": hit.page, "device": hit.device}),
    )


def indexed_of(fields: Iterable[Any]) -> IndexedFile:
    """An IndexedFile from IndexFile's answer."""
    embedded, kept, dropped, skipped = fields
    return IndexedFile(embedded, kept, dropped, skipped or None)


def indexed_struct(indexed: IndexedFile) -> IndexedFields:
    """IndexFile's answer; '' says the file was indexed."""
    return (indexed.embedded, indexed.kept, indexed.dropped, indexed.skipped or "")


def status_of(value: Mapping[str, Any]) -> IndexStatus:
    """An IndexStatus from the interface's properties (unwrapped, by name)."""
    return IndexStatus(
        files_indexed=int(value["FilesIndexed"]),
        queued=int(value["Queued"]),
        failed=int(value["Failed"]),
        bytes=int(value["Bytes"]),
        roots=tuple(value["Roots"]),
        crawling=bool(value["Crawling"]),
    )
