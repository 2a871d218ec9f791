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
  `Crawling`: counts, never paths, of what the caller may be told
  (`storage.shown`): the files under their home and their media (root: every
  file); the roots, but for the media mounted for others; the bytes the index
  takes and whether a crawl runs are the machine's.
- `WatchProgress()`: send `Progress(files_done, queued)` to this connection,
  at most once a second while its numbers change, until `UnwatchProgress()`
  or it leaves the bus: for root, the files indexed since the service started
  and the files waiting; for anyone else, their FilesIndexed and Queued.
  Sent to the watcher alone (`Watchers`), never broadcast: when and how much
  one user writes is not another's business.
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
    OBJECT_PATH,
    PROGRESS_SIGNATURE,
    SEARCH_OPTIONS,
    FileHit,
    HitFields,
    IndexedFields,
    IndexedFile,
    hit_struct,
    indexed_struct,
)
from noosd.index.engine import Indexer
from noosd.index.storage.access import ROOT_UID
from noosd.index.storage.callers import user_of
from noosd.index.storage.shown import own_directories, shown_roots
from noosd.index.storage.targets import (
    absolute_path,
    check_owned,
    check_readable,
    ignored_reason_for,
    indexed_root,
)
from noosd.runtime import (
    NoosInterface,
    caller_uid,
    caller_uid_if_any,
    effective_uid,
    noos_method,
)
from noosd.runtime.watchers import Watchers

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
        self._watchers = Watchers(OBJECT_PATH, INTERFACE)
        # What each watched uid was last sent.
        self._progress_sent: dict[int, tuple[int, int]] = {}
        self._activity_reported = (-1, -1)  # (files_done, queued) when last looked at

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
        root = indexed_root(target, self._indexer.roots, self._indexer.settings.roots)
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
        indexed_root(target, self._indexer.roots, self._indexer.settings.roots)
        caller = user_of(await caller_uid()).caller
        check_readable(target, caller)
        check_owned(target, caller)
        return await self._indexer.runner.run(lambda engine: engine.forget(target))

    @noos_method()
    def Reindex(self) -> DBusBool:
        """Crawl every indexed directory again; false when that is queued already."""
        return self._indexer.reindex()

    @noos_method()
    async def WatchProgress(self) -> None:
        """Send Progress to this connection, in the caller's view, until
        UnwatchProgress or it leaves the bus."""
        self._watchers.add_caller(await caller_uid())

    @noos_method()
    async def UnwatchProgress(self) -> None:
        """Send this connection no more Progress."""
        self._watchers.remove_caller()

    @dbus_signal()
    def Progress(self) -> Annotated[list[int], DBusSignature(PROGRESS_SIGNATURE)]:
        """(files_done, queued) in the watcher's view; sent unicast to the
        connections that called WatchProgress, never broadcast (`Watchers`)."""
        raise NotImplementedError("sent by Watchers.send, to one connection at a time")

    async def report_progress(self) -> None:
        """Send each watcher its Progress, if it changed since it was last sent
        (looked at only when the index worked, or someone began watching)."""
        watched, activity = self._watchers.uids(), self._indexer.activity()
        worked = (activity.files_done, activity.queued) != self._activity_reported
        if not worked and watched == set(self._progress_sent):
            return
        self._activity_reported = (activity.files_done, activity.queued)
        for uid in set(self._progress_sent) - watched:
            del self._progress_sent[uid]
        for uid in watched:
            progress = await self._progress_of(uid)
            if progress is not None and self._progress_sent.get(uid) != progress:
                self._progress_sent[uid] = progress
                self._watchers.send(uid, "Progress", PROGRESS_SIGNATURE, list(progress))

    async def _progress_of(self, uid: int) -> tuple[int, int] | None:
        if uid == ROOT_UID:
            activity = self._indexer.activity()
            return activity.files_done, activity.queued
        counts = await self._counts_of(uid)
        return None if counts is None else (counts[0], await self._queued_of(uid))

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

    async def _counts_of(self, uid: int | None) -> tuple[int, int] | None:
        """(files indexed, files failed) that `uid` is told of; None while the
        engine is not open. Root: every file; no caller (dbus-fast announcing
        the object): none."""
        if uid == ROOT_UID:
            status = await self._current_status()
            return None if status is None else (status.files, status.failed)
        if uid is None or not self._indexer.runner.is_open:
            return None
        directories = own_directories(self._indexer.roots.all(), user_of(uid))
        return await self._indexer.runner.run(lambda engine: engine.counts_under(directories))

    async def _queued_of(self, uid: int | None) -> int:
        if uid == ROOT_UID:
            return self._indexer.activity().queued
        if uid is None:
            return 0
        return self._indexer.queued_under(own_directories(self._indexer.roots.all(), user_of(uid)))

    @dbus_property(access=PropertyAccess.READ)
    async def FilesIndexed(self) -> DBusUInt32:
        """Files in the index under the caller's home and media (root: every user's)."""
        counts = await self._counts_of(await caller_uid_if_any())
        return 0 if counts is None else counts[0]

    @dbus_property(access=PropertyAccess.READ)
    async def Queued(self) -> DBusUInt32:
        """Files waiting to be indexed under the caller's home and media (root: all)."""
        return await self._queued_of(await caller_uid_if_any())

    @dbus_property(access=PropertyAccess.READ)
    async def Failed(self) -> DBusUInt32:
        """Files under the caller's home and media that could not be indexed
        (binary, too large, unreadable); root: all."""
        counts = await self._counts_of(await caller_uid_if_any())
        return 0 if counts is None else counts[1]

    @dbus_property(access=PropertyAccess.READ)
    async def Bytes(self) -> DBusUInt64:
        """Bytes the index takes on disk, every user's files (as `df` shows its disk)."""
        status = await self._current_status()
        return 0 if status is None else status.bytes

    @dbus_property(access=PropertyAccess.READ)
    async def Roots(self) -> StringList:
        """The directories indexed: the configured ones, and the mounted media
        that are the caller's (root: all)."""
        uid = await caller_uid_if_any()
        if uid is None:
            return []
        return [str(root.path) for root in shown_roots(self._indexer.roots.all(), user_of(uid))]

    @dbus_property(access=PropertyAccess.READ)
    def Crawling(self) -> DBusBool:
        """Whether a crawl is under way (of every root: the index's own work)."""
        return self._indexer.activity().crawling
