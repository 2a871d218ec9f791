"""Writing the index: a write is searchable, an edit re-embeds only what changed,
a rename keeps everything, a delete removes it everywhere, and removable media
are hidden, not deleted. Real model, real chromadb, real files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from noosd.index.storage.chroma import DEFAULT_COLLECTION, ChromaIndex
from noosd.index.store import CHROMA_DIR, DATABASE_FILE, Caller, Indexed, IndexStore
from noosd.shared.arrays import Matrix
from tests.unit.index.conftest import CountingEmbedder

ALICE = Caller(1000, frozenset({1000}))

# Each at least MIN_CHUNK_CHARS long, so that each paragraph is a chunk of its own.
PARAGRAPHS = [
    "The heating in the flat broke down on Monday. The landlord says a plumber comes on "
    "Thursday morning; until then the small electric radiator from the cellar has to do, "
    "and the bathroom stays cold for a few more days.",
    "Sourdough needs a starter fed twice a day with equal weights of flour and water. The "
    "dough rests overnight in the fridge, then bakes for forty minutes in a covered pot at "
    "the highest heat the old oven manages.",
    "The cluster upgrade moves every node to kernel 6.1 and restarts the storage daemons "
    "one at a time. Drain each node first, and check that the replicas are healthy before "
    "moving on to the next one in the rack.",
    "For the trip to Lisbon we booked the night train from Madrid and a small flat near the "
    "river in Alfama. The tram to the castle leaves from the square below, every ten "
    "minutes until late in the evening.",
]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    return path


def notes(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs) + "\n"


def chunk_rows(state_dir: Path) -> dict[int, tuple[bytes, bytes]]:
    """Chunk id to (file path, vector), as SQLite has them."""
    db = sqlite3.connect(state_dir / DATABASE_FILE)
    try:
        rows = db.execute(
            "SELECT chunks.id, files.path, chunks.vector FROM chunks "
            "JOIN files ON files.id = chunks.file_id"
        ).fetchall()
    finally:
        db.close()
    return {row[0]: (row[1], row[2]) for row in rows}


def chroma_ids(state_dir: Path) -> set[int]:
    """The ids in the engine's chromadb, through a second client on its files."""
    chroma = ChromaIndex(state_dir / CHROMA_DIR, None, DEFAULT_COLLECTION)
    try:
        return chroma.all_ids()
    finally:
        chroma.close()


def paths(engine: IndexStore, query: str, caller: Caller = ALICE) -> list[str]:
    return [hit.path for hit in engine.search(query, 10, caller)]


def test_a_written_file_is_searchable(engine: IndexStore, files: Path) -> None:
    path = write(files / "flat.txt", notes(PARAGRAPHS))

    indexed = engine.index_file(path)

    assert indexed == Indexed(str(path), embedded=4, kept=0, dropped=0, skipped=None)
    hits = engine.search("when does the plumber come?", 3, ALICE)
    assert hits[0].path == str(path)
    assert "plumber" in "\n".join(hits[0].snippet.lines)
    assert hits[0].snippet.start_line == 1
    assert hits[0].language == "text"
    assert hits[0].mtime == path.stat().st_mtime
    assert hits[0].device is None


def test_an_edit_re_embeds_only_the_changed_chunk(
    engine: IndexStore, files: Path, embedder: CountingEmbedder
) -> None:
    other = write(files / "other.md", "# Garden\n\nTomatoes need sun and water every day.\n")
    path = write(files / "flat.txt", notes(PARAGRAPHS))
    engine.index_files([path, other])
    embedder.reset()

    edited = [*PARAGRAPHS]
    edited[2] = (
        "Zanzibar ferry tickets are in the blue folder on the shelf by the door, with the\n"
        "passports, the printed hotel booking and the travel insurance papers that the bank "
        "sent last week by post, all in one envelope."
    )
    write(path, notes(edited))
    indexed = engine.index_file(path)

    assert indexed == Indexed(str(path), embedded=1, kept=3, dropped=1, skipped=None)
    assert embedder.texts == [edited[2]]
    new = engine.search("where are the ferry tickets?", 1, ALICE)[0]
    assert new.path == str(path)
    assert "Zanzibar" in new.snippet.lines[0]
    # The old text is nowhere: not by its words, not by its meaning.
    for hit in engine.search("cluster upgrade kernel storage daemons", 10, ALICE):
        assert "cluster" not in "\n".join(hit.snippet.lines)
    # The paragraph below the edit moved down a line: same vector, new place.
    assert engine.search("Lisbon night train", 1, ALICE)[0].snippet.start_line == 8


def test_an_unchanged_file_costs_no_embedding(
    engine: IndexStore, files: Path, embedder: CountingEmbedder
) -> None:
    path = write(files / "flat.txt", notes(PARAGRAPHS))
    engine.index_file(path)
    embedder.reset()

    again = engine.index_file(path)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # touched: same bytes, another mtime
    touched = engine.index_file(path)

    assert again == touched == Indexed(str(path), embedded=0, kept=4, dropped=0, skipped=None)
    assert embedder.calls == 0
    assert engine.search("plumber", 1, ALICE)[0].mtime == 1_000_000_000


def test_a_copy_borrows_the_vectors_of_the_text_it_copies(
    engine: IndexStore, files: Path, embedder: CountingEmbedder
) -> None:
    original = write(files / "flat.txt", notes(PARAGRAPHS))
    engine.index_file(original)
    embedder.reset()
    copy = files / "backup" / "flat.txt"
    copy.parent.mkdir()
    shutil.copy(original, copy)

    indexed = engine.index_file(copy)

    assert indexed == Indexed(str(copy), embedded=0, kept=4, dropped=0, skipped=None)
    assert embedder.calls == 0
    assert set(paths(engine, "plumber")) >= {str(original), str(copy)}


def test_many_files_are_embedded_in_one_batch(
    engine: IndexStore, files: Path, embedder: CountingEmbedder
) -> None:
    written = [write(files / f"note{n}.txt", notes([p])) for n, p in enumerate(PARAGRAPHS)]
    # A text in two files of the batch is embedded once.
    written.append(write(files / "twin.txt", notes([PARAGRAPHS[0]])))

    indexed = engine.index_files(written)

    assert embedder.calls == 1
    assert len(embedder.texts) == 4
    assert [i.embedded for i in indexed] == [1, 1, 1, 1, 0]
    assert indexed[-1].kept == 1
    assert engine.status().files == 5
    assert engine.status().chunks == 5


def test_a_renamed_file_keeps_its_chunks_and_vectors(
    engine: IndexStore, files: Path, embedder: CountingEmbedder, state_dir: Path
) -> None:
    old = write(files / "flat.txt", notes(PARAGRAPHS))
    engine.index_file(old)
    before = chunk_rows(state_dir)
    embedder.reset()
    new = files / "renamed.txt"
    old.rename(new)

    assert engine.rename(old, new) == 1
    assert engine.index_file(new).embedded == 0

    after = chunk_rows(state_dir)
    assert after.keys() == before.keys()
    assert {vector for _, vector in after.values()} == {vector for _, vector in before.values()}
    assert {path for path, _ in after.values()} == {os.fsencode(new)}
    assert chroma_ids(state_dir) == after.keys()
    assert embedder.calls == 0
    assert paths(engine, "plumber") == [str(new)]


def test_a_renamed_directory_moves_everything_under_it(
    engine: IndexStore, files: Path, state_dir: Path
) -> None:
    inside = [
        write(files / "a" / "b" / f"note{n}.txt", notes([p])) for n, p in enumerate(PARAGRAPHS)
    ]
    sibling = write(files / "ab" / "note.txt", notes([PARAGRAPHS[1]]))
    engine.index_files([*inside, sibling])
    before = chunk_rows(state_dir)
    (files / "a").rename(files / "c")

    assert engine.rename(files / "a", files / "c") == 4

    assert chunk_rows(state_dir).keys() == before.keys()
    assert sorted(engine.indexed_paths(files / "c")) == [
        files / "c" / "b" / f"note{n}.txt" for n in range(4)
    ]
    assert engine.indexed_paths(files / "a") == []
    assert engine.indexed_paths(files / "ab") == [sibling]


def test_a_rename_over_an_indexed_file_replaces_it(
    engine: IndexStore, files: Path, state_dir: Path
) -> None:
    target = write(files / "flat.txt", notes(PARAGRAPHS[:2]))
    saved = write(files / ".flat.txt.swp", notes(PARAGRAPHS[2:]))
    engine.index_files([target, saved])
    saved_chunks = {i for i, (path, _) in chunk_rows(state_dir).items() if path == bytes(saved)}
    saved.rename(target)

    assert engine.rename(saved, target) == 1

    assert chunk_rows(state_dir).keys() == saved_chunks
    assert chroma_ids(state_dir) == saved_chunks
    assert engine.status().files == 1


def test_forgetting_removes_a_file_everywhere(
    engine: IndexStore, files: Path, state_dir: Path
) -> None:
    kept = write(files / "garden.md", "# Garden\n\nTomatoes need sun and water every day.\n")
    gone = write(files / "flat.txt", notes(PARAGRAPHS))
    engine.index_files([kept, gone])

    assert engine.forget(gone) == 1

    assert str(gone) not in paths(engine, "plumber")
    assert {path for path, _ in chunk_rows(state_dir).values()} == {bytes(kept)}
    assert chroma_ids(state_dir) == chunk_rows(state_dir).keys()
    assert engine.status().files == 1


def test_forgetting_a_directory_removes_everything_under_it_and_nothing_beside(
    engine: IndexStore, files: Path
) -> None:
    inside = [write(files / "a" / f"note{n}.txt", notes([p])) for n, p in enumerate(PARAGRAPHS)]
    beside = write(files / "ab.txt", notes(PARAGRAPHS[:1]))
    engine.index_files([*inside, beside])

    assert engine.forget(files / "a") == 4

    assert engine.indexed_paths(files) == [beside]
    assert engine.forget(files / "a") == 0


def test_a_hidden_device_is_hidden_not_deleted(
    engine: IndexStore, files: Path, embedder: CountingEmbedder
) -> None:
    stick = write(files / "media" / "usb" / "flat.txt", notes(PARAGRAPHS))
    home = write(files / "home" / "garden.md", "# Garden\n\nTomatoes need sun every day.\n")
    engine.index_file(stick, device="usb-1234")
    engine.index_file(home)
    assert engine.search("plumber", 1, ALICE)[0].device == "usb-1234"

    engine.set_device_visible("usb-1234", False)
    hidden = paths(engine, "plumber")
    engine.set_device_visible("usb-1234", True)
    embedder.reset()

    assert str(stick) not in hidden
    assert hidden == [str(home)]
    assert paths(engine, "plumber")[0] == str(stick)
    assert engine.status().files == 2
    assert embedder.calls == 1  # the query alone


def test_a_hidden_device_stays_hidden_after_a_reopen(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    stick = write(files / "usb" / "flat.txt", notes(PARAGRAPHS))
    first = make_engine()
    first.index_file(stick, device="usb-1234")
    first.set_device_visible("usb-1234", False)
    first.close()

    assert paths(make_engine(), "plumber") == []


def test_status_counts_files_chunks_failures_and_bytes(engine: IndexStore, files: Path) -> None:
    engine.index_files(
        [write(files / "flat.txt", notes(PARAGRAPHS)), files / "missing.txt", Path("/dev/null")]
    )

    status = engine.status()

    assert (status.files, status.chunks, status.failed) == (1, 4, 1)
    assert status.bytes > 0


class BlockingBatches(CountingEmbedder):
    """The real embedder, whose batches of several texts wait until released."""

    def __init__(self, inner: CountingEmbedder) -> None:
        super().__init__(inner.inner)
        self.embedding = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> Matrix:
        if len(texts) > 1:
            self.embedding.set()
            assert self.release.wait(timeout=60)
        return super().embed(texts)


def test_a_search_does_not_wait_for_a_batch_being_embedded(
    state_dir: Path, embedder: CountingEmbedder, files: Path
) -> None:
    blocking = BlockingBatches(embedder)
    engine = IndexStore(state_dir, blocking)
    engine.index_file(write(files / "garden.md", "# Garden\n\nWater the tomatoes at night.\n"))
    batch = threading.Thread(
        target=engine.index_files, args=([write(files / "flat.txt", notes(PARAGRAPHS))],)
    )
    batch.start()
    try:
        assert blocking.embedding.wait(timeout=60)

        assert paths(engine, "tomatoes") == [str(files / "garden.md")]
    finally:
        blocking.release.set()
        batch.join()
    assert paths(engine, "plumber")[0] == str(files / "flat.txt")
    engine.close()
