"""Durability: what a call acknowledged is in SQLite, and chromadb, a follower of
SQLite, is brought back in line at open, whatever it lost or missed."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from chromadb.api.models.Collection import Collection

from noosd.index.store import CHROMA_DIR, Caller, IndexStore
from tests.fixtures.models import shipped_models_tree
from tests.unit.index.conftest import MODEL, NOW
from tests.unit.index.test_store import PARAGRAPHS, chroma_ids, chunk_rows, notes, write

ALICE = Caller(1000, frozenset({1000}))
REPO = Path(__file__).resolve().parents[3]
QUERIES = ["when does the plumber come?", "baking bread", "kernel upgrade", "python files"]


def results(engine: IndexStore) -> list[list[tuple[str, float, tuple[str, ...]]]]:
    return [
        [(hit.path, hit.score, hit.snippet.lines) for hit in engine.search(q, 10, ALICE, now=NOW)]
        for q in QUERIES
    ]


def a_home(files: Path) -> list[Path]:
    written = [
        write(files / "notes" / f"note{n}.txt", notes([paragraph]))
        for n, paragraph in enumerate(PARAGRAPHS)
    ]
    written.append(
        write(files / "src" / "stats.py", "def mean(xs):\n    return sum(xs) / len(xs)\n")
    )
    written.append(write(files / "usb" / "flat.txt", notes(PARAGRAPHS[:2])))
    return written


def test_close_and_reopen_keeps_everything(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    first = make_engine()
    written = a_home(files)
    first.index_files(written[:-1])
    first.index_file(written[-1], device="usb-1")
    (files / "blob.bin").write_bytes(b"\0")
    first.index_file(files / "blob.bin")
    first.set_device_visible("usb-1", False)
    (files / "notes").rename(files / "archive")
    first.rename(files / "notes", files / "archive")
    before = (results(first), first.status(), first.failures(), first.indexed_paths(files))
    first.close()

    second = make_engine()

    after = (results(second), second.status(), second.failures(), second.indexed_paths(files))
    assert after[0] == before[0]
    assert after[1].files == before[1].files and after[1].chunks == before[1].chunks
    assert after[2:] == before[2:]


def test_chromadb_lost_entirely_is_rebuilt_from_sqlite(
    make_engine: Callable[..., IndexStore], files: Path, state_dir: Path
) -> None:
    first = make_engine()
    first.index_files(a_home(files))
    expected = results(first)
    first.close()
    shutil.rmtree(state_dir / CHROMA_DIR)

    second = make_engine(exact_max_rows=0)

    assert chroma_ids(state_dir) == chunk_rows(state_dir).keys()
    assert results(second) == expected


def test_a_removal_chromadb_missed_is_replayed_at_open(
    make_engine: Callable[..., IndexStore],
    files: Path,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = make_engine()
    written = a_home(files)
    first.index_files(written)
    gone = set(chunk_rows(state_dir))

    def unavailable(*_: object, **__: object) -> None:
        raise ConnectionError("chromadb is away")

    with monkeypatch.context() as patch:
        patch.setattr(Collection, "delete", unavailable)
        assert first.forget(files / "notes") == 4
        first.close()
    gone -= set(chunk_rows(state_dir))
    assert gone <= chroma_ids(state_dir)

    make_engine()

    assert chroma_ids(state_dir) == chunk_rows(state_dir).keys()


def test_an_index_acknowledged_before_kill_9_survives_and_chromadb_catches_up(
    make_engine: Callable[..., IndexStore], files: Path, state_dir: Path
) -> None:
    written = a_home(files)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.unit.index.crashing_indexer",
            state_dir,
            shipped_models_tree() / MODEL,
            *written,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.split() == [str(path) for path in written[:-1]]
    # The last file committed, and chromadb never got it.
    assert chroma_ids(state_dir) < chunk_rows(state_dir).keys()

    engine = make_engine(exact_max_rows=0)

    assert chroma_ids(state_dir) == chunk_rows(state_dir).keys()
    assert sorted(engine.indexed_paths(files)) == sorted(written)
    assert engine.search("when does the plumber come?", 1, ALICE)[0].path == str(written[0])


def test_a_damaged_database_is_set_aside_and_indexed_again(
    make_engine: Callable[..., IndexStore], files: Path, state_dir: Path
) -> None:
    first = make_engine()
    written = a_home(files)
    first.index_files(written)
    before = results(first)
    first.close()
    database = state_dir / "index.sqlite3"
    with database.open("r+b") as file:
        file.seek(4096)
        file.write(b"\xff" * (database.stat().st_size - 4096))

    second = make_engine()
    assert results(second) == [[] for _ in QUERIES]
    second.index_files(written)

    assert results(second) == before
    aside = sorted(p.name.split(".corrupt-")[0] for p in state_dir.glob("*.corrupt-*"))
    assert aside == [CHROMA_DIR, "index.sqlite3"]


def test_damage_found_by_a_query_after_open_is_set_aside_and_indexed_again(
    make_engine: Callable[..., IndexStore], files: Path, state_dir: Path
) -> None:
    engine = make_engine()
    written = a_home(files)
    engine.index_files(written)
    before = results(engine)
    started_afresh: list[bool] = []
    engine.on_started_afresh = lambda: started_afresh.append(True)
    database = state_dir / "index.sqlite3"
    # Everything into the database file, and the engine's page cache invalid
    # (the WAL it knew is gone): its next query reads the damaged pages.
    with sqlite3.connect(database) as other:
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with database.open("r+b") as file:
        file.seek(4096)
        file.write(b"\xff" * (database.stat().st_size - 4096))

    assert results(engine) == [[] for _ in QUERIES]
    assert started_afresh == [True]
    engine.index_files(written)

    assert results(engine) == before
    aside = {p.name.split(".corrupt-")[0] for p in state_dir.glob("*.corrupt-*")}
    wal = {"index.sqlite3-wal", "index.sqlite3-shm"}
    assert {CHROMA_DIR, "index.sqlite3"} <= aside <= {CHROMA_DIR, "index.sqlite3", *wal}
    engine.close()
