"""The SQLite conventions the services' databases share (the index's
`IndexDatabase`, each user's `MemoryDatabase`).

A `Database` is one connection in autocommit mode (`isolation_level=None`):
every change is an explicit `transaction`, never one of the implicit
transactions of Python's sqlite3. It runs in WAL mode with
synchronous=FULL: a transaction that committed survives kill -9 and power
loss; `relaxed` lowers that to kill -9 alone for bookkeeping that may be lost.
auto_vacuum=INCREMENTAL lets a service hand freed pages back to the file
system. The schema is versioned by `PRAGMA user_version`.

A database that is the truth of its data may be `verify`-ed on open
(`PRAGMA quick_check`): a corrupt file is then found at once, as a
`CorruptDatabase`, not by whichever later query reads its bad page.
`is_corruption` and `is_disk_full` tell those failures from others.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

# SQLite allows 32766 parameters; ids go in batches well below that.
MAX_PARAMETERS = 4096
# SQLite's result codes for a file that is damaged, or not a database at all,
# and for a write that found the disk full.
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_NOTADB = 26
# The problems `quick_check` reports, at most (it stops there).
_CHECK_PROBLEMS = 5

_Item = TypeVar("_Item")


class CorruptDatabase(sqlite3.DatabaseError):
    """`quick_check` found the file damaged; the message says where."""


def is_corruption(error: BaseException) -> bool:
    """Whether `error` says a database file is damaged (not busy, not full)."""
    if isinstance(error, CorruptDatabase):
        return True
    return isinstance(error, sqlite3.DatabaseError) and getattr(
        error, "sqlite_errorcode", None
    ) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is a write that found no space left."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    return getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL


class Database:
    """A service's SQLite database; its connection is `_db`, and its owner lets
    one thread at a time use it."""

    def __init__(
        self,
        path: Path,
        *,
        schema: str,
        version: int,
        settings: Mapping[str, int | str],
        migrations: Mapping[int, Callable[[], None]] | None = None,
        verify: bool = False,
    ) -> None:
        """Open (or create, at schema `version`) the database at `path`.

        `settings` are the database's own pragmas, set in order after the
        journal mode and synchronous. A file at a version among `migrations`'
        keys is brought to `version` by its migration; one at any other
        version but `version` is refused with a RuntimeError.
        """
        self.path = path
        # The connection may be opened on one thread and used on another (never
        # two at once: its owner's lock or worker thread sees to that).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._open(schema, version, settings, migrations, verify)
        except BaseException:
            self._db.close()
            raise

    def _open(
        self,
        schema: str,
        version: int,
        settings: Mapping[str, int | str],
        migrations: Mapping[int, Callable[[], None]] | None,
        verify: bool,
    ) -> None:
        path = self.path
        if verify:
            check = f"PRAGMA quick_check({_CHECK_PROBLEMS})"
            problems = [row[0] for row in self._db.execute(check)]
            if problems != ["ok"]:
                raise CorruptDatabase(f"{path} is damaged: {'; '.join(problems)}")
        found = self._db.execute("PRAGMA user_version").fetchone()[0]
        if found == 0:
            # A new file (or one whose creation never committed): auto_vacuum
            # takes effect only before anything, the WAL mode included, is written.
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        for name, value in settings.items():
            self._db.execute(f"PRAGMA {name} = {value}")
        if found == 0:
            self._db.executescript(
                f"BEGIN IMMEDIATE; {schema} PRAGMA user_version = {version}; COMMIT;"
            )
        elif migrations is not None and found in migrations:
            migrations[found]()
        elif found != version:
            raise RuntimeError(f"{path}: schema version {found}, expected {version}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable change: committed on leaving, rolled back on an exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def relaxed(self) -> Iterator[None]:
        """Transactions inside need survive a crash of the process, not a power loss.

        For bookkeeping whose loss to a power cut costs little (the memory
        store's access times, counts and promotions; the index's outbox marks,
        whose loss costs a second write of the same vectors to chromadb),
        while an fsync per commit costs milliseconds. Their WAL frames reach the disk with the
        next durable commit or checkpoint; a crash of the process alone loses
        nothing.
        """
        self._db.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous = FULL")


def batches(items: Sequence[_Item]) -> Iterator[list[_Item]]:
    """`items` in lists short enough to be the parameters of one statement."""
    listed = list(items)
    for start in range(0, len(listed), MAX_PARAMETERS):
        yield listed[start : start + MAX_PARAMETERS]


def marks(batch: Sequence[object]) -> str:
    """One "?" for each item, comma-separated: the placeholders of an IN (...) list."""
    return ",".join("?" * len(batch))
