"""Searching the index: filters said in words, meaning and exact words fused,
one hit per file, and only what the caller could open, decided now."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from noos.protocol.errors import InvalidArgument
from noosd.index.store import MAX_LIMIT, Caller, IndexStore
from tests.unit.index.conftest import NOW, CountingEmbedder

ALICE = Caller(1000, frozenset({1000}))
OTHER_USER = 4242
ROOT = Caller(0, frozenset({0}))

BUGGY_PYTHON = '''def average(values):
    """The mean of the values."""
    # BUG: crashes with ZeroDivisionError on an empty list
    return sum(values) / len(values)
'''


def write(path: Path, text: str, *, mode: int = 0o644, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def at(day: int, hour: int = 15) -> float:
    """A local time in March 2026 (NOW is Saturday the 14th)."""
    return datetime(2026, 3, day, hour).timestamp()


def paths(engine: IndexStore, query: str, caller: Caller = ALICE, **options: object) -> list[str]:
    return [hit.path for hit in engine.search(query, 10, caller, now=NOW, **options)]  # type: ignore[arg-type]


def test_time_and_type_filters_said_in_words(engine: IndexStore, files: Path) -> None:
    tuesday = write(files / "stats.py", BUGGY_PYTHON, mtime=at(10))
    wednesday = write(files / "mean.py", BUGGY_PYTHON.replace("values", "numbers"), mtime=at(11))
    note = write(files / "bugs.md", "# Bugs\n\nThe average function has a bug.\n", mtime=at(10))
    engine.index_files([tuesday, wednesday, note])

    assert paths(engine, "the python script with the bug from Tuesday") == [str(tuesday)]
    assert paths(engine, "the python script with the bug from Wednesday") == [str(wednesday)]
    assert paths(engine, "notes about the bug from Tuesday") == [str(note)]
    assert set(paths(engine, "the bug")) == {str(tuesday), str(wednesday), str(note)}


def test_a_place_said_in_words_keeps_the_files_under_it(engine: IndexStore, files: Path) -> None:
    work = write(files / "work" / "stats.py", BUGGY_PYTHON)
    elsewhere = write(files / "workshop" / "stats.py", BUGGY_PYTHON.replace("mean", "average"))
    engine.index_files([work, elsewhere])

    assert paths(engine, "the bug in ~/work", home=files) == [str(work)]


def test_a_query_of_filters_alone_lists_the_newest_first(engine: IndexStore, files: Path) -> None:
    older = write(files / "old.py", BUGGY_PYTHON, mtime=at(2))
    newer = write(files / "new.py", "import os\n", mtime=at(12))
    empty = write(files / "empty.py", "", mtime=at(13))
    write(files / "notes.md", "# Notes\n", mtime=at(13))
    engine.index_files([older, newer, empty, files / "notes.md"])

    hits = engine.search("python files", 10, ALICE, now=NOW)

    assert [hit.path for hit in hits] == [str(empty), str(newer), str(older)]
    assert hits[0].snippet.lines == ()
    assert hits[1].snippet.lines == ("import os",)
    assert {hit.score for hit in hits} == {0.0}


def test_exact_words_find_an_identifier_that_meaning_misses(
    engine: IndexStore, files: Path, embedder: CountingEmbedder
) -> None:
    query = "zqx_reindex_shard"
    target = write(
        files / "baker.py",
        "def proof_dough(hours):\n"
        '    """Let the sourdough rise in a warm kitchen; fold it twice, shape the loaf."""\n'
        "    return zqx_reindex_shard(hours) * 2\n",
    )
    near_in_meaning = [
        write(files / f"shards{n}.md", f"# Shards\n\n{text}\n")
        for n, text in enumerate(
            [
                "Reindexing a shard: rebuild each shard's index at night, then swap it in.",
                "The search cluster reindexes its shards when the schema changes.",
                "Shard the index by user id; reindex a shard when it grows too large.",
            ]
        )
    ]
    engine.index_files([target, *near_in_meaning])
    texts = [path.read_text() for path in [target, *near_in_meaning]]
    cosines = embedder.embed(texts) @ embedder.embed([query])[0]
    # Meaning alone would rank the target below the notes about shards...
    assert int(np.argmax(cosines)) != 0

    # ...the exact words bring it first.
    assert paths(engine, query)[0] == str(target)


def test_one_hit_per_file_at_its_best_chunk(engine: IndexStore, files: Path) -> None:
    sections = [
        "# Heating\n\nThe boiler makes a knocking noise when the heating starts.",
        "# Radiators\n\nBleed the radiators when the heating runs but they stay cold.",
        "# Plumber\n\nThe plumber fixes the heating boiler on Thursday morning.",
    ]
    house = write(files / "house.md", "\n\n".join(sections) + "\n")
    garden = write(files / "garden.md", "# Garden\n\nWater the tomatoes every evening.\n")
    engine.index_files([house, garden])

    hits = engine.search("when is the plumber coming to fix the boiler?", 10, ALICE, now=NOW)

    assert [hit.path for hit in hits] == [str(house), str(garden)]
    assert hits[0].snippet.lines[0] == "# Plumber"
    assert hits[0].snippet.start_line == 9


def test_a_private_file_of_another_user_is_never_returned(engine: IndexStore, files: Path) -> None:
    secret = write(files / "secret.py", BUGGY_PYTHON, mode=0o600)
    os.chown(secret, OTHER_USER, OTHER_USER)
    engine.index_file(secret)

    assert paths(engine, "the bug in average") == []
    assert paths(engine, "python files") == []
    assert paths(engine, "the bug", Caller(OTHER_USER, frozenset({OTHER_USER}))) == [str(secret)]
    assert paths(engine, "the bug", ROOT) == [str(secret)]


def test_a_readable_file_in_a_private_directory_is_never_returned(
    engine: IndexStore, files: Path
) -> None:
    private = files / "home" / "other"
    readable = write(private / "stats.py", BUGGY_PYTHON, mode=0o644)
    os.chown(private, OTHER_USER, OTHER_USER)
    private.chmod(0o700)
    engine.index_file(readable)

    assert paths(engine, "the bug in average") == []
    assert paths(engine, "the bug", Caller(OTHER_USER, frozenset())) == [str(readable)]


def test_permissions_are_checked_at_query_time(engine: IndexStore, files: Path) -> None:
    path = write(files / "stats.py", BUGGY_PYTHON, mode=0o644)
    os.chown(path, OTHER_USER, OTHER_USER)
    engine.index_file(path)
    assert paths(engine, "the bug") == [str(path)]

    path.chmod(0o600)  # not re-indexed: the search sees the mode now

    assert paths(engine, "the bug") == []


def test_closed_files_ranked_first_do_not_crowd_out_open_ones(
    engine: IndexStore, files: Path
) -> None:
    closed = []
    for n in range(40):
        path = write(files / f"closed{n}.md", f"# Plumber {n}\n\nThe plumber comes on day {n}.\n")
        os.chown(path, OTHER_USER, OTHER_USER)
        path.chmod(0o600)
        closed.append(path)
    open_ones = [
        write(files / "open1.md", "# Boiler\n\nThe boiler was serviced last year.\n"),
        write(files / "open2.md", "# Garden\n\nWater the tomatoes every evening.\n"),
    ]
    engine.index_files([*closed, *open_ones])

    hits = engine.search("when does the plumber come?", 2, ALICE, now=NOW)

    assert sorted(hit.path for hit in hits) == sorted(str(path) for path in open_ones)


def test_chromadb_answers_large_unfiltered_searches_like_the_exact_product(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    topics = ["boiler repair", "sourdough bread", "kernel upgrade", "night train", "tax return"]
    written = [
        write(files / f"note{n}.md", f"# Note {n}\n\nA note about {topics[n % 5]}, number {n}.\n")
        for n in range(60)
    ]
    exact = make_engine()
    exact.index_files(written)
    queries = ["fixing the boiler", "baking bread", "travelling by train", "python files"]
    expected = [paths(exact, query) for query in queries]
    exact.close()

    approximate = make_engine(exact_max_rows=0)

    assert [paths(approximate, query) for query in queries] == expected


def test_a_chroma_server_that_is_down_leaves_search_exact(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    # Port 9 (discard) has no Chroma server: every chromadb call fails at once.
    engine = make_engine(chroma_url="http://127.0.0.1:9", exact_max_rows=0)
    path = write(files / "stats.py", BUGGY_PYTHON)

    assert engine.index_file(path).skipped is None
    assert paths(engine, "the bug") == [str(path)]


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, 2.5, "3"])
def test_a_bad_limit_is_refused(engine: IndexStore, limit: object) -> None:
    with pytest.raises(InvalidArgument, match="limit"):
        engine.search("anything", limit, ALICE)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["", "   ", 42, "x" * 1001])
def test_a_query_without_words_or_filters_is_refused(engine: IndexStore, query: object) -> None:
    with pytest.raises(InvalidArgument):
        engine.search(query, 10, ALICE)  # type: ignore[arg-type]


def test_a_chroma_url_that_is_no_url_is_refused(make_engine: Callable[..., IndexStore]) -> None:
    with pytest.raises(InvalidArgument, match="Chroma server URL"):
        make_engine(chroma_url="chroma.lan:8000")


def test_an_empty_index_or_a_filter_that_keeps_nothing_finds_nothing(
    engine: IndexStore, files: Path
) -> None:
    assert paths(engine, "the bug") == []
    assert engine.index_files([]) == []
    engine.index_file(write(files / "stats.py", BUGGY_PYTHON))

    assert paths(engine, "the bug in rust code") == []
    assert paths(engine, "the bug from 1999-01-01") == []
