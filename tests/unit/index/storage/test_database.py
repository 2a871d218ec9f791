"""The index's SQLite database: paths as bytes, a directory as a range of them,
filters as SQL, and a schema it does not know refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from noosd.index.core.metadata import FileMetadata
from noosd.index.storage.database import FileFilter, IndexDatabase, subtree_range

PATHS = [
    b"/home/a",
    b"/home/a/notes.md",
    b"/home/a/src/x.py",
    b"/home/a\xff/y.py",  # not UTF-8, and sorts after "/home/a/"
    b"/home/ab/z.py",
    b"/home/a-b/w.py",  # "-" sorts before "/"
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[IndexDatabase]:
    database = IndexDatabase(tmp_path / "index.sqlite3")
    with database.transaction():
        for n, path in enumerate(PATHS):
            metadata = FileMetadata(
                path=Path("/unused"),
                uid=1000,
                gid=1000,
                mode=0o644,
                mime="text/x-python",
                language="python" if path.endswith(b".py") else "markdown",
                size=1,
                mtime=1000.0 + n,
                ctime=1000.0 + n,
                device=1,
                inode=n,
            )
            device = "usb" if path.startswith(b"/home/ab") else None
            database.upsert_file(path, metadata, "code", f"hash{n}", device, now=0.0)
    yield database
    database.close()


def matching(db: IndexDatabase, where: FileFilter) -> set[bytes]:
    rows = db.file_rows(db.matching_files(where).tolist())
    return {row.path for row in rows.values()}


def test_a_directory_is_the_range_of_paths_strictly_under_it(db: IndexDatabase) -> None:
    low, high = subtree_range(b"/home/a/")

    assert (low, high) == (b"/home/a/", b"/home/a0")
    assert db.paths_under(b"/home/a") == [b"/home/a/notes.md", b"/home/a/src/x.py"]
    assert [path for _, path in db.files_at_or_under(b"/home/a")] == [
        b"/home/a",
        b"/home/a/notes.md",
        b"/home/a/src/x.py",
    ]
    assert db.paths_under(b"/") == sorted(PATHS)


def test_filters_select_by_time_language_place_and_visible_medium(db: IndexDatabase) -> None:
    assert matching(db, FileFilter()) == set(PATHS)
    assert matching(db, FileFilter(since=1002.0, until=1004.0)) == set(PATHS[2:4])
    assert matching(db, FileFilter(languages=frozenset({"markdown"}))) == set(PATHS[:2])
    assert matching(db, FileFilter(under=(b"/home/a", b"/home/ab"))) == {
        b"/home/a/notes.md",
        b"/home/a/src/x.py",
        b"/home/ab/z.py",
    }
    assert matching(db, FileFilter(hidden_devices=frozenset({"usb"}))) == set(PATHS) - {
        b"/home/ab/z.py"
    }
    assert FileFilter(hidden_devices=frozenset()).is_everything
    assert not FileFilter(hidden_devices=frozenset({"usb"})).is_everything


def test_an_upsert_keeps_a_file_s_id_and_first_indexed_time(db: IndexDatabase) -> None:
    stored = db.stored_file(b"/home/a/notes.md")
    assert stored is not None
    metadata = FileMetadata(
        Path("/unused"), 1, 1, 0o600, "text/markdown", "markdown", 9, 5.0, 5.0, 1, 1
    )

    with db.transaction():
        file_id = db.upsert_file(b"/home/a/notes.md", metadata, "notes", "new", None, now=99.0)

    assert file_id == stored.id
    updated = db.stored_file(b"/home/a/notes.md")
    assert updated is not None and (updated.size, updated.content_hash) == (9, "new")


def test_a_database_of_an_unknown_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    IndexDatabase(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()

    with pytest.raises(RuntimeError, match="schema version 99"):
        IndexDatabase(path)
