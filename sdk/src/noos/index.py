"""The client of org.noos.Index1: search the files you may read.

async with await Index.connect() as index:
    for hit in await index.search("the python script with the bug from Tuesday"):
        print(f"{hit.path}:{hit.start_line}")
        print(hit.snippet)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant

from noos.client import Client
from noos.sync import SyncClient, blocking
from noos.watch import Watch, watch_signal


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


@dataclass(frozen=True)
class IndexProgress:
    """A Progress signal: files indexed since the service started (not the
    files in the index: `status` says those), and files waiting."""

    files_done: int
    queued: int


def hit_of(fields: Iterable[Any]) -> FileHit:
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


class Index(Client):
    """Async client of org.noos.Index1."""

    bus_name = "org.noos.Index1"
    object_path = "/org/noos/Index1"
    interface = "org.noos.Index1"

    async def search(
        self, query: str, limit: int = 10, for_uid: int | None = None
    ) -> list[FileHit]:
        """The files that best match `query` among those you may read, best first.

        The query may say filters in words: "notes from last week", "python
        script in my projects". Root may search as `for_uid` (logged)."""
        options = {} if for_uid is None else {"for_uid": Variant("u", for_uid)}
        (hits,) = await self._call("Search", "sua{sv}", query, limit, options)
        return [hit_of(hit) for hit in hits]

    async def index_file(self, path: str | os.PathLike[str]) -> IndexedFile:
        """Index the file at the absolute `path` now."""
        (fields,) = await self._call("IndexFile", "s", os.fspath(path))
        embedded, kept, dropped, skipped = fields
        return IndexedFile(embedded, kept, dropped, skipped or None)

    async def forget(self, path: str | os.PathLike[str]) -> int:
        """Drop the file at the absolute `path` from the index until it next
        changes; how many files (0 or 1)."""
        return int((await self._call("Forget", "s", os.fspath(path)))[0])

    async def reindex(self) -> bool:
        """Crawl every indexed directory again; False when that is queued already."""
        return bool((await self._call("Reindex"))[0])

    async def status(self) -> IndexStatus:
        """The index's counts and roots, in one call."""
        value = await self._get_all()
        return IndexStatus(
            files_indexed=int(value["FilesIndexed"]),
            queued=int(value["Queued"]),
            failed=int(value["Failed"]),
            bytes=int(value["Bytes"]),
            roots=tuple(value["Roots"]),
            crawling=bool(value["Crawling"]),
        )

    def watch_progress(self) -> Watch[IndexProgress]:
        """The index's progress as it works, at most about once a second."""
        return watch_signal(
            self.connection,
            self.bus_name,
            self.object_path,
            self.interface,
            "Progress",
            "uu",
            lambda body: IndexProgress(int(body[0]), int(body[1])),
        )


class SyncIndex(SyncClient[Index]):
    """Blocking client of org.noos.Index1."""

    client_type = Index
    search = blocking(Index.search)
    index_file = blocking(Index.index_file)
    forget = blocking(Index.forget)
    reindex = blocking(Index.reindex)
    status = blocking(Index.status)
