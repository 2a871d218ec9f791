"""The org.noos.Index1 interface: a thin D-Bus facade over the `Indexer`.

Search acts for the calling uid, taken from the bus: it returns only files
that user could open now (the groups and home are the system's, `callers`).
Root, or whom polkit allows `org.noos.index.search-as-user`, may search as
another user only by naming it in the `for_uid` option, which the runtime logs.

- `Search(query, limit, options)`: the `limit` (1 to 100) files that best
  match `query`, best first. The query may say filters in words: "python
  script from yesterday", "notes in my projects". The options and the hit's
  struct are the protocol's (`noos.protocol.index`): the snippet is the lines
  start_line to end_line of the file, each after its number (as `grep -n`
  counts). A file name that is not UTF-8 comes with its undecodable bytes as
  `\\xNN`.
- `IndexFile(path)`: index the file now, if the caller may read it (decided
  by the engine on the file it opens, reached without following a link, so
  that what was checked is what is read: `storage.walking`); returns
  `(embedded, kept, dropped, skipped)`: chunks embedded, chunks whose vector
  was kept, stored chunks dropped, and why the file was not indexed ('' when
  it was; a file the ignore rules leave out is not indexed either, and the
  reason quotes a `.noosignore` rule only to a caller who may read it).
- `Forget(path)`: drop the file's entries, if the caller owns it (root: any
  file; one who may only read it may not hide it from its owner's searches);
  how many files (0 or 1). It comes back when it next changes or is crawled: to
  keep a file out, name it in a `.noosignore`.
- `Reindex()`: crawl every indexed directory again, finding what changed and
  forgetting what went; false when such a crawl is queued already.
- Properties `FilesIndexed`, `Queued`, `Failed`, `Bytes`, `Roots`,
  `Crawling`, for the whole index: counts, never paths.
- Signal `Progress(files_done, queued)`, at most once a second while the
  index works: files indexed since the service started, and files waiting.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Annotated

from dbus_fast import PropertyAccess, Variant
from dbus_fast.annotations import (
    DBusBool,
    DBusSignature,
    DBusStr,
    DBusUInt32,
    DBusUInt64,
)
from dbus_fast.service import dbus_property, dbus_signal

from noos.protocol.actions import INDEX_SEARCH_AS_USER
from noos.protocol.index import (
    HIT_SIGNATURE,
    INDEXED_SIGNATURE,
    INTERFACE,
    SEARCH_OPTIONS,
    FileHit,
    HitFields,
    IndexedFields,
    IndexedFile,
    hit_struct,
    indexed_struct,
)
from noosd.index.engine import Indexer
from noosd.index.storage.callers import user_of
from noosd.index.storage.targets import (
    absolute_path,
    check_owned,
    check_readable,
    ignored_reason_for,
    indexed_root,
)
from noosd.runtime import NoosInterface, caller_uid, effective_uid, noos_method

if TYPE_CHECKING:
    from noosd.index.store import IndexStatus, SearchHit

VariantDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
HitList = Annotated[list[HitFields], DBusSignature(f"a{HIT_SIGNATURE}")]
IndexedStruct = Annotated[IndexedFields, DBusSignature(INDEXED_SIGNATURE)]
StringList = Annotated[list[str], DBusSignature("as")]
# The properties' counts are read again at most this often while nothing changes.
STATUS_MAX_AGE_S = 5.0


def bus_path(path: str) -> str:
    """A path as a D-Bus string, which must be UTF-8: a name's undecodable
    bytes (held as lone surrogates) become \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def search_hit_struct(hit: SearchHit) -> HitFields:
    return hit_struct(
        FileHit(
            path=bus_path(hit.path),
            score=hit.score,
            snippet=hit.snippet.numbered(),
            start_line=hit.snippet.start_line,
            end_line=hit.snippet.end_line,
            mtime=hit.mtime,
            language=hit.language or "",
            page=hit.snippet.page,
            device=hit.device,
        )
    )


class IndexInterface(NoosInterface):
    """Search the files you may read; index, forget, recrawl."""

    def __init__(self, indexer: Indexer) -> None:
        super().__init__(INTERFACE)
        self._indexer = indexer
        self._status: IndexStatus | None = None
        self._status_at = 0.0
        self._status_after = -1  # the files_done the cached status saw

    @noos_method()
    async def Search(self, query: DBusStr, limit: DBusUInt32, options: VariantDict) -> HitList:
        """The `limit` files that best match `query` among those the caller may read."""
        for_uid = SEARCH_OPTIONS.decode(options).get("for_uid")
        uid = await effective_uid(await caller_uid(), for_uid, INDEX_SEARCH_AS_USER)
        user = user_of(uid)
        hits = await self._indexer.runner.run(
            lambda engine: engine.search(query, limit, user.caller, home=user.home)
        )
        return [search_hit_struct(hit) for hit in hits]

    @noos_method()
    async def IndexFile(self, path: DBusStr) -> IndexedStruct:
        """Index the file at `path` now: (embedded, kept, dropped, skipped)."""
        target = absolute_path(path)
        root = indexed_root(target, self._indexer.roots)
        caller = user_of(await caller_uid()).caller
        # At once, for a clear answer; the engine decides again on the file it opens.
        check_readable(target, caller)
        ignored = root.rules.ignored_by(target, is_dir=False)
        if ignored is not None:
            reason = ignored_reason_for(ignored, caller)
            return indexed_struct(IndexedFile(0, 0, 0, f"ignored: {reason}"))
        indexed = await self._indexer.runner.run(
            lambda engine: engine.index_file(target, device=root.device, caller=caller)
        )
        self._indexer.files_indexed_on_request += indexed.skipped is None
        return indexed_struct(
            IndexedFile(indexed.embedded, indexed.kept, indexed.dropped, indexed.skipped)
        )

    @noos_method()
    async def Forget(self, path: DBusStr) -> DBusUInt32:
        """Drop the entries of the file at `path`, which the caller owns: how many (0 or 1)."""
        target = absolute_path(path)
        indexed_root(target, self._indexer.roots)
        caller = user_of(await caller_uid()).caller
        check_readable(target, caller)
        check_owned(target, caller)
        return await self._indexer.runner.run(lambda engine: engine.forget(target))

    @noos_method()
    def Reindex(self) -> DBusBool:
        """Crawl every indexed directory again; false when that is queued already."""
        return self._indexer.reindex()

    @dbus_signal()
    def Progress(
        self, files_done: DBusUInt32, queued: DBusUInt32
    ) -> Annotated[list[int], DBusSignature("uu")]:
        """Files indexed since the service started, and files waiting."""
        return [files_done, queued]

    async def _current_status(self) -> IndexStatus | None:
        """The engine's counts, read again when the index worked or they aged;
        None while the engine is not open (the properties then say 0)."""
        if not self._indexer.runner.is_open:
            return None
        done = self._indexer.activity().files_done
        stale = time.monotonic() - self._status_at > STATUS_MAX_AGE_S
        if self._status is None or done != self._status_after or stale:
            self._status = await self._indexer.runner.run(lambda engine: engine.status())
            self._status_at, self._status_after = time.monotonic(), done
        return self._status

    @dbus_property(access=PropertyAccess.READ)
    async def FilesIndexed(self) -> DBusUInt32:
        """Files in the index, every user's."""
        status = await self._current_status()
        return 0 if status is None else status.files

    @dbus_property(access=PropertyAccess.READ)
    def Queued(self) -> DBusUInt32:
        """Files waiting to be indexed."""
        return self._indexer.activity().queued

    @dbus_property(access=PropertyAccess.READ)
    async def Failed(self) -> DBusUInt32:
        """Files that could not be indexed (binary, too large, unreadable)."""
        status = await self._current_status()
        return 0 if status is None else status.failed

    @dbus_property(access=PropertyAccess.READ)
    async def Bytes(self) -> DBusUInt64:
        """Bytes the index takes on disk."""
        status = await self._current_status()
        return 0 if status is None else status.bytes

    @dbus_property(access=PropertyAccess.READ)
    def Roots(self) -> StringList:
        """The directories indexed: the configured ones and mounted media."""
        return [str(root.path) for root in self._indexer.roots.all()]

    @dbus_property(access=PropertyAccess.READ)
    def Crawling(self) -> DBusBool:
        """Whether a crawl is under way."""
        return self._indexer.activity().crawling
