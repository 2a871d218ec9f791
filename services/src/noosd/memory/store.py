"""`MemoryStore`: the semantic memory of every user, the core of org.noos.Memory1.

It checks what callers pass, embeds texts, and hands each user's work to that
user's `UserMemories`, opened on first use from `state_dir/users/<uid>/`. All
methods but `stats` are meant for one worker thread; `stats` may be called from
any thread: it reads counts cached under a lock, and the sizes of files.

A user's database is the truth of their memories. One found damaged (on
open, by `quick_check`, or by any later query) is set aside with the whole of
the user's directory (`users/<uid>.corrupt-<UTC time>`, see
`noosd.shared.quarantine`): that call fails with `Corrupted`, and the user's
next call starts an empty store. Other users' files are never touched. A full
disk fails the call with `Unavailable`, and leaves nothing half-written: a
Remember is refused before it touches SQLite or chromadb while the state's file
system has no more than `min_free_bytes` free (chromadb's writes hang on a
full disk), and chromadb's write-behind waits for space likewise.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noos.protocol.errors import (
    Corrupted,
    InvalidArgument,
    NotFound,
    QuotaExceeded,
    Unavailable,
)
from noosd.memory.consolidation import consolidate, merge_repetitions
from noosd.memory.core import temporal, validation
from noosd.memory.core.codec import normalized
from noosd.memory.core.config import MemoryConfig
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.ids import format_id, parse_id
from noosd.memory.core.kinds import default_importance
from noosd.memory.core.model import ConsolidationReport, Hit, Memory, MetadataValue, Tier, TierStats
from noosd.memory.core.tiering import TIERS
from noosd.memory.storage.database import NewMemoryRow, row_bytes
from noosd.memory.storage.hot import gpu_device
from noosd.memory.user import DATABASE_FILE, UserMemories, directory_bytes
from noosd.shared.chroma import ChromaError
from noosd.shared.diskspace import DiskFull, ensure_room
from noosd.shared.embedding import Embedder
from noosd.shared.lexical import fts_terms
from noosd.shared.quarantine import set_aside
from noosd.shared.sqlite import is_corruption, is_disk_full

# The facade needs these and the store alone.
__all__ = [
    "ConsolidationReport",
    "Hit",
    "Memory",
    "MemoryConfig",
    "MemoryStore",
    "NewMemory",
    "RecallFilter",
    "Tier",
    "TierStats",
]

USERS_DIR = "users"
# What a full disk refuses to store, as `DiskFull` says it.
MEMORIES = "the memories"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewMemory:
    """One memory for `MemoryStore.remember_many`; the fields are `remember`'s arguments."""

    text: str
    kind: str
    metadata: Mapping[str, object] = field(default_factory=dict)
    importance: float | None = None
    supersedes: str | None = None


@dataclass(frozen=True)
class _CheckedMemory:
    text: str
    kind: str
    metadata: dict[str, MetadataValue]
    importance: float | None
    supersedes: int | None


class MemoryStore:
    """Every user's memories under state_dir; see the package docstring."""

    def __init__(
        self,
        state_dir: Path,
        embedder: Embedder,
        config: MemoryConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = state_dir
        self.embedder = embedder
        self.config = config or MemoryConfig()
        self._clock = clock
        self._users_dir = state_dir / USERS_DIR
        self._users_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._users: dict[int, UserMemories] = {}
        # Asked once, when the first user opens (a torch already imported may see a GPU).
        self._device: str | None = None
        self._device_known = False
        self._counts_lock = threading.Lock()
        self._counts: dict[int, dict[Tier, int]] = {}
        self._closed = False

    # --- remembering ---

    def remember(
        self,
        uid: int,
        text: str,
        kind: str,
        metadata: Mapping[str, object],
        importance: float | None = None,
        supersedes: str | None = None,
    ) -> Memory:
        """Remember a text for a user; on return it is on disk.

        `supersedes` names an older memory of the user that this one
        contradicts: it is marked superseded, not deleted. A fact whose
        metadata has a "fact" entry (its subject) supersedes the user's current
        fact with the same subject likewise.
        """
        return self.remember_many(uid, [NewMemory(text, kind, metadata, importance, supersedes)])[0]

    def remember_many(self, uid: int, items: Sequence[NewMemory]) -> list[Memory]:
        """Remember several memories at once: one embedding batch, one transaction.

        Once that transaction commits, the call succeeds: the upkeep after it
        (capacity, merging, writing chromadb) is retried later if it fails, so a
        retried call never stores a memory twice."""
        uid = validation.uid(uid)
        checked = [self._check_new(item) for item in items]
        if not checked:
            return []
        self._check_room()
        with self._faults(uid):
            return self._remember_checked(uid, checked)

    def _check_room(self) -> None:
        ensure_room(self.state_dir, self.config.min_free_bytes, MEMORIES)

    def _remember_checked(self, uid: int, checked: Sequence[_CheckedMemory]) -> list[Memory]:
        existing = self._existing_user(uid)
        self._check_quota(existing, checked)
        successors = self._check_supersedes(existing, checked)
        vectors = self._embed([item.text for item in checked])
        user = self._open_user(uid)
        now = self._clock()
        rows = [
            NewMemoryRow(
                id=user.ids.allocate(),
                kind=item.kind,
                text=item.text,
                metadata=item.metadata,
                created_at=now,
                base_importance=(
                    default_importance(item.kind, item.text)
                    if item.importance is None
                    else item.importance
                ),
                vector=vector,
            )
            for item, vector in zip(checked, vectors, strict=True)
        ]
        user.add(rows, [(old, rows[i].id) for i, old in successors.items()])
        try:
            user.enforce_capacity(now)
            if user.unwritten_warm_count() > self.config.max_unwritten_warm:
                # Not what this call adds: a memory outlives the call that remembers it.
                merge_repetitions(user, before=rows[0].id)
                user.write_warm_if_due(added=len(rows))
        except (sqlite3.Error, OSError) as error:
            # Committed already: a failure to tidy up (a full disk) must not
            # read as a failure to remember, or a retry stores it twice.
            _log.warning("upkeep after remembering for uid %d failed: %s", uid, error)
        self._publish(user)
        stored = user.fetch([row.id for row in rows])
        return [user.memory(stored[row.id]) for row in rows]

    def _check_new(self, item: NewMemory) -> _CheckedMemory:
        return _CheckedMemory(
            text=validation.text(item.text, self.config.max_text_bytes),
            kind=validation.kind(item.kind),
            metadata=validation.metadata(item.metadata),
            importance=validation.importance(item.importance),
            supersedes=None if item.supersedes is None else _parse_id(item.supersedes),
        )

    def _check_quota(self, user: UserMemories | None, items: Sequence[_CheckedMemory]) -> None:
        """QuotaExceeded if the user would keep more memories, or bytes of them,
        than one user may: every tier is held in RAM or on disk for them."""
        count = user.memory_count() if user is not None else 0
        most = self.config.max_memories_per_user
        if count + len(items) > most:
            raise QuotaExceeded(
                f"you keep {count} memories and {len(items)} more would be over the {most} "
                "one user may keep; forget some to remember more"
            )
        used = user.stored_bytes() if user is not None else 0
        adding = sum(row_bytes(item.text, item.metadata) for item in items)
        most = self.config.max_bytes_per_user
        if used + adding > most:
            raise QuotaExceeded(
                f"your memories take {used} bytes of text and metadata and these {adding} "
                f"more would be over the {most} one user may keep; forget some to remember more"
            )

    @staticmethod
    def _check_supersedes(
        user: UserMemories | None, items: Sequence[_CheckedMemory]
    ) -> dict[int, int]:
        """The memory each item supersedes, by the item's position."""
        wanted = {
            position: item.supersedes
            for position, item in enumerate(items)
            if item.supersedes is not None
        }
        if len(set(wanted.values())) < len(wanted):
            raise InvalidArgument("two new memories supersede the same memory")
        stored = user.fetch(list(wanted.values())) if user is not None else {}
        for memory_id in wanted.values():
            old = stored.get(memory_id)
            if old is None:
                raise NotFound(f"no memory {format_id(memory_id)} to supersede")
            if old.superseded_by is not None:
                raise InvalidArgument(
                    f"memory {format_id(memory_id)} is already superseded by "
                    f"{format_id(old.superseded_by)}"
                )
        return wanted

    # --- recalling ---

    def recall(
        self,
        uid: int,
        query: str,
        limit: int,
        filters: RecallFilter | None = None,
        neighbours: bool = False,
    ) -> list[Hit]:
        """The user's memories that best answer `query`, best first (see scoring);
        with `neighbours`, each hit followed by its neighbours (see
        `UserMemories.recall`), beyond `limit`.

        Each memory returned counts as accessed: it moves to the hot tier, and
        its last access and access count are updated, in RAM at once and on
        disk with the next change, or `settle`: a crash may lose the
        latest accesses, never a memory.
        """
        uid = validation.uid(uid)
        query = validation.text(query, self.config.max_text_bytes, "query")
        terms = fts_terms(query)
        if not terms:
            raise InvalidArgument(
                "the query has no word to search for (only function words such as "
                "'the' or 'what', or no words at all)"
            )
        limit = validation.limit(limit, self.config.max_limit)
        filters = _check_filters(filters)
        if not isinstance(neighbours, bool):
            raise InvalidArgument("neighbours must be a boolean")
        with self._faults(uid):
            user = self._existing_user(uid)
            if user is None:
                return []
            hits = user.recall(
                self._embed([query])[0],
                terms,
                limit,
                filters,
                self._clock(),
                temporal.asks_when(query),
                neighbours,
            )
        self._publish(user)
        return hits

    def get(self, uid: int, memory_id: str) -> Memory:
        """One memory of the user's, which counts as accessed."""
        uid = validation.uid(uid)
        parsed = _parse_id(memory_id)
        with self._faults(uid):
            user = self._owner(uid, [parsed])
            memory = user.access([parsed], self._clock())[parsed]
        self._publish(user)
        return memory

    # --- changing and forgetting ---

    def pin(self, uid: int, memory_id: str, pinned: bool) -> Memory:
        """Pin a memory (maximum importance, never pruned), or unpin it."""
        uid = validation.uid(uid)
        if not isinstance(pinned, bool):
            raise InvalidArgument("pinned must be a boolean")
        parsed = _parse_id(memory_id)
        with self._faults(uid):
            user = self._owner(uid, [parsed])
            user.pin(parsed, pinned)
            return user.memory(user.fetch([parsed])[parsed])

    def forget(self, uid: int, memory_ids: Sequence[str]) -> int:
        """Delete these memories of the user's everywhere; NotFound (deleting none) if
        any is not the user's. Returns how many were deleted."""
        uid = validation.uid(uid)
        if isinstance(memory_ids, str):
            raise InvalidArgument("memory ids must be a list of ids, not one string")
        parsed = list(dict.fromkeys(_parse_id(memory_id) for memory_id in memory_ids))
        if not parsed:
            return 0
        with self._faults(uid):
            user = self._owner(uid, parsed)
            deleted = user.delete(parsed)
        self._publish(user)
        return deleted

    def forget_where(self, uid: int, filters: RecallFilter) -> int:
        """Delete every memory of the user's that the filter matches; returns how many."""
        uid = validation.uid(uid)
        filters = _check_filters(filters)
        with self._faults(uid):
            user = self._existing_user(uid)
            if user is None:
                return 0
            deleted = user.delete(user.db.matching_ids(filters))
        self._publish(user)
        return deleted

    # --- upkeep ---

    def stats(self, uid: int) -> TierStats:
        """The user's memories per tier and the bytes they take; callable from any thread."""
        uid = validation.uid(uid)
        directory = self._users_dir / str(uid)
        with self._counts_lock:
            counts = self._counts.get(uid)
        if counts is None:
            try:
                counts = _count_on_disk(directory / DATABASE_FILE)
            except sqlite3.DatabaseError as error:
                if not is_corruption(error):
                    raise
                # Not set aside from this thread: the worker does, at the next call.
                raise Corrupted(
                    "your memories' database is damaged; your next call sets it aside "
                    "for an administrator and starts your memories afresh"
                ) from error
            with self._counts_lock:
                # A count published meanwhile by the worker thread is newer.
                counts = self._counts.setdefault(uid, counts)
        return TierStats(counts=dict(counts), bytes_used=directory_bytes(directory))

    def settle(self) -> None:
        """Write the accesses that recalls noted in RAM (see `UserMemories.recall`)
        and checkpoint the WAL; the service calls this when it is idle."""
        for uid, user in list(self._users.items()):
            try:
                with self._faults(uid):
                    user.settle()
            except (Corrupted, Unavailable) as error:
                _log.error("settling the memories of uid %d failed: %s", uid, error)
                continue
            self._publish(user)

    def consolidate(self) -> ConsolidationReport:
        """Merge, decay, prune and rebalance every user's memories (see consolidation)."""
        report = ConsolidationReport()
        for uid in self._uids_on_disk():
            try:
                self._check_room()  # consolidating writes chromadb
                with self._faults(uid):
                    user = self._existing_user(uid)
                    if user is None:
                        continue
                    report += consolidate(user, self._clock())
            except (Corrupted, Unavailable) as error:
                # One user's damage or a full disk stops no one else's upkeep.
                _log.error("consolidating the memories of uid %d failed: %s", uid, error)
                continue
            self._publish(user)
        _log.info("consolidated: %s", report)
        return report

    def close(self) -> None:
        """Close every user's files; idempotent. Nothing is lost by not calling it."""
        if self._closed:
            return
        self._closed = True
        for user in self._users.values():
            user.close()
        self._users.clear()

    # --- helpers ---

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        if vectors.shape != (len(texts), self.embedder.dim) or not np.isfinite(vectors).all():
            raise RuntimeError(
                f"the embedder returned {vectors.shape} (finite: {np.isfinite(vectors).all()}) "
                f"for {len(texts)} texts of dimension {self.embedder.dim}"
            )
        return normalized(vectors)

    def _existing_user(self, uid: int) -> UserMemories | None:
        """The user's memories, opened on first use; None if the user has none."""
        if uid not in self._users and not (self._users_dir / str(uid) / DATABASE_FILE).exists():
            return None
        return self._open_user(uid)

    def _open_user(self, uid: int) -> UserMemories:
        """The user's memories, opened (or created) on first use."""
        if self._closed:
            raise Unavailable("the memory store is closed")
        user = self._users.get(uid)
        if user is None:
            directory = self._users_dir / str(uid)
            if not self._device_known:
                self._device = gpu_device() if self.config.hot_on_gpu else None
                self._device_known = True
            user = UserMemories(uid, directory, self.embedder.dim, self.config, self._device)
            self._users[uid] = user
            self._publish(user)
        return user

    def _owner(self, uid: int, ids: Sequence[int]) -> UserMemories:
        """The user's memories, if they hold all these ids; NotFound naming those they lack."""
        user = self._existing_user(uid)
        found = user.fetch(ids) if user is not None else {}
        missing = [format_id(i) for i in ids if i not in found]
        if missing or user is None:
            raise NotFound(f"no memory {', '.join(missing)}")
        return user

    @contextmanager
    def _faults(self, uid: int) -> Iterator[None]:
        """Turn a damaged database into `Corrupted` (the user's files set aside),
        and a full disk into `Unavailable`."""
        try:
            yield
        except (sqlite3.Error, OSError) as error:
            if is_corruption(error):
                raise self._set_aside(uid, error) from error
            if is_disk_full(error):
                raise DiskFull(MEMORIES) from error
            raise

    def _set_aside(self, uid: int, error: BaseException) -> Corrupted:
        """Set aside a user's damaged files; returns the error that says so."""
        user = self._users.pop(uid, None)
        if user is not None:
            with contextlib.suppress(sqlite3.Error, OSError, ChromaError):
                user.close()  # a damaged file may fail to close; it goes aside either way
        with self._counts_lock:
            self._counts.pop(uid, None)
        aside = set_aside(self._users_dir / str(uid), f"uid {uid}: {error}")
        return Corrupted(
            f"your memories' database was damaged ({error}); it was set aside as "
            f"{aside.name} for an administrator to inspect, and your memories start "
            "afresh, empty, from your next call"
        )

    def _publish(self, user: UserMemories) -> None:
        counts = {TIERS[tier]: count for tier, count in user.counts.items()}
        with self._counts_lock:
            self._counts[user.uid] = counts

    def _uids_on_disk(self) -> list[int]:
        return sorted(
            int(entry.name)
            for entry in self._users_dir.iterdir()
            if entry.name.isdigit() and (entry / DATABASE_FILE).exists()
        )


def _parse_id(memory_id: object) -> int:
    parsed = parse_id(memory_id)
    if parsed is None:
        raise NotFound(f"no memory {memory_id!r}")
    return parsed


def _check_filters(filters: object) -> RecallFilter:
    if filters is None:
        return RecallFilter()
    if not isinstance(filters, RecallFilter):
        raise InvalidArgument(f"filters must be a RecallFilter, not {type(filters).__name__}")
    return filters


def _count_on_disk(path: Path) -> dict[Tier, int]:
    """A user's memories per tier, read through a connection of this thread's own."""
    counts = dict.fromkeys(TIERS, 0)
    if not path.exists():
        return counts
    db = sqlite3.connect(path)
    try:
        for tier, count in db.execute("SELECT tier, count(*) FROM memories GROUP BY tier"):
            counts[TIERS[int(tier)]] = int(count)
    except sqlite3.OperationalError:
        # Created this instant by the worker thread: no table yet, no memories yet.
        pass
    finally:
        db.close()
    return counts
