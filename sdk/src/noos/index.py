"""The client of org.noos.Index1: search the files you may read.

async with await Index.connect() as index:
    for hit in await index.search("the python script with the bug from Tuesday"):
        print(f"{hit.path}:{hit.start_line}")
        print(hit.snippet)
"""

from __future__ import annotations

import os

from noos.client import Client
from noos.protocol import index as protocol
from noos.protocol.index import FileHit, IndexedFile, IndexProgress, IndexStatus, hit_of
from noos.sync import SyncClient, blocking
from noos.watch import Watch, watch_signal

__all__ = ["FileHit", "Index", "IndexProgress", "IndexStatus", "IndexedFile", "SyncIndex", "hit_of"]


class Index(Client):
    """Async client of org.noos.Index1."""

    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    interface = protocol.INTERFACE

    async def search(
        self, query: str, limit: int = 10, for_uid: int | None = None
    ) -> list[FileHit]:
        """The files that best match `query` among those you may read, best first.

        The query may say filters in words: "notes from last week", "python
        script in my projects". Root may search as `for_uid` (logged)."""
        options = protocol.SEARCH_OPTIONS.encode({"for_uid": for_uid})
        (hits,) = await self._call("Search", "sua{sv}", query, limit, options)
        return [hit_of(hit) for hit in hits]

    async def index_file(self, path: str | os.PathLike[str]) -> IndexedFile:
        """Index the file at the absolute `path` now."""
        (fields,) = await self._call("IndexFile", "s", os.fspath(path))
        return protocol.indexed_of(fields)

    async def forget(self, path: str | os.PathLike[str]) -> int:
        """Drop the file at the absolute `path` from the index until it next
        changes; how many files (0 or 1). Only its owner (or root) may:
        PermissionDenied for anyone else."""
        return int((await self._call("Forget", "s", os.fspath(path)))[0])

    async def reindex(self) -> bool:
        """Crawl every indexed directory again; False when that is queued already."""
        return bool((await self._call("Reindex"))[0])

    async def status(self) -> IndexStatus:
        """The index's counts and roots, in one call."""
        return protocol.status_of(await self._get_all())

    def watch_progress(self) -> Watch[IndexProgress]:
        """The index's progress as it works, at most about once a second.

        The service sends it to the watching connection alone, as its user
        sees it (`IndexProgress`), from WatchProgress until UnwatchProgress,
        which closing the watch calls."""

        async def subscribe() -> list[IndexProgress]:
            await self._call("WatchProgress")
            return []

        async def unsubscribe() -> None:
            await self._call("UnwatchProgress")

        return watch_signal(
            self.connection,
            self.bus_name,
            self.object_path,
            self.interface,
            "Progress",
            protocol.PROGRESS_SIGNATURE,
            protocol.progress_of,
            subscribe=subscribe,
            unsubscribe=unsubscribe,
        )


class SyncIndex(SyncClient[Index]):
    """Blocking client of org.noos.Index1."""

    client_type = Index
    search = blocking(Index.search)
    index_file = blocking(Index.index_file)
    forget = blocking(Index.forget)
    reindex = blocking(Index.reindex)
    status = blocking(Index.status)
