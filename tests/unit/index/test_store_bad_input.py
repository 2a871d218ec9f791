"""Whatever a path holds, indexing it never crashes: it is indexed, or skipped
with the reason (recorded in failures, unless the file is simply gone), and
whatever was indexed of it before is dropped."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from noos.protocol.errors import InvalidArgument
from noosd.index.core.ignore import SizeLimits
from noosd.index.store import Caller, Indexed, IndexStore
from tests.unit.index.conftest import CountingEmbedder

ALICE = Caller(1000, frozenset({1000}))
NOTE = "# Boiler\n\nThe plumber fixes the boiler on Thursday morning.\n"


def write(path: Path, content: str | bytes, mode: int = 0o644) -> Path:
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    path.chmod(mode)
    return path


def found(engine: IndexStore, query: str = "plumber boiler") -> list[str]:
    return [hit.path for hit in engine.search(query, 10, ALICE)]


def test_a_missing_file_is_skipped_as_vanished_and_not_a_failure(
    engine: IndexStore, files: Path
) -> None:
    indexed = engine.index_file(files / "missing.md")

    assert indexed == Indexed(str(files / "missing.md"), 0, 0, 0, "vanished")
    assert engine.failures() == []
    assert engine.index_file(files / "not-a-directory" / "x.md").skipped == "vanished"


def test_a_deleted_file_is_dropped_from_the_index(engine: IndexStore, files: Path) -> None:
    path = write(files / "boiler.md", NOTE)
    engine.index_file(path)
    path.unlink()

    assert engine.index_file(path) == Indexed(str(path), 0, 0, 1, "vanished")
    assert engine.status().files == 0
    assert found(engine) == []


def test_a_binary_file_is_skipped_and_recorded(engine: IndexStore, files: Path) -> None:
    path = write(files / "blob.txt", b"ELF\0\1\2\3" * 100)

    indexed = engine.index_file(path)

    assert indexed.skipped is not None and indexed.skipped.startswith("binary content")
    assert engine.failures() == [(str(path), indexed.skipped)]
    assert engine.status().failed == 1


def test_a_file_that_turned_binary_is_dropped_and_one_that_recovers_is_cleared(
    engine: IndexStore, files: Path
) -> None:
    path = write(files / "boiler.md", NOTE)
    engine.index_file(path)
    write(path, b"\0" + NOTE.encode())

    assert engine.index_file(path).dropped == 1
    assert found(engine) == []
    assert len(engine.failures()) == 1

    write(path, NOTE)
    assert engine.index_file(path).skipped is None
    assert found(engine) == [str(path)]
    assert engine.failures() == []


def test_a_2_gb_sparse_file_is_skipped_by_its_size_without_being_read(
    engine: IndexStore, files: Path
) -> None:
    path = files / "huge.txt"
    with path.open("wb") as huge:
        huge.truncate(2 * 2**30)

    started = time.monotonic()
    indexed = engine.index_file(path)

    assert time.monotonic() - started < 1.0  # reading 2 GiB of zeros takes seconds
    assert indexed.skipped == "2147483648 bytes; the most indexed for text is 4194304"
    assert engine.failures() == [(str(path), indexed.skipped)]


def test_the_size_limits_are_the_engine_s(
    make_engine: Callable[..., IndexStore], files: Path
) -> None:
    engine = make_engine(limits=SizeLimits(max_text_bytes=10))

    assert engine.index_file(write(files / "boiler.md", NOTE)).skipped == (
        f"{len(NOTE)} bytes; the most indexed for markdown is 10"
    )


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink", "device"])
def test_what_is_not_a_regular_file_is_skipped_without_blocking(
    engine: IndexStore, files: Path, kind: str
) -> None:
    path = files / kind
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # opening it to read would wait for a writer forever
    elif kind == "symlink":
        path.symlink_to(write(files / "boiler.md", NOTE))
    else:
        path = Path("/dev/zero")  # reading it never ends

    indexed = engine.index_file(path)

    assert indexed.skipped is not None and indexed.skipped.startswith("not a regular file")
    assert str(path) in dict(engine.failures())


def test_an_unreadable_pdf_is_skipped_with_pypdf_s_reason(engine: IndexStore, files: Path) -> None:
    indexed = engine.index_file(write(files / "report.pdf", b"%PDF-1.4 this is not a PDF"))

    assert indexed.skipped is not None and indexed.skipped.startswith("an unreadable PDF")


def test_a_name_that_is_not_utf_8_round_trips(engine: IndexStore, files: Path) -> None:
    name = b"caf\xe9 \xff.md"  # Latin-1, as an old archive would unpack it
    path = Path(os.fsdecode(os.fsencode(files) + b"/" + name))
    write(path, NOTE)
    binary = Path(os.fsdecode(os.fsencode(files) + b"/\xfe.bin"))
    write(binary, b"\0\0\0")

    assert engine.index_file(path).skipped is None
    engine.index_file(binary)

    hit = engine.search("plumber", 1, ALICE)[0]
    assert os.fsencode(hit.path) == os.fsencode(files) + b"/" + name
    assert Path(hit.path).read_text() == NOTE
    assert [os.fsencode(p) for p, _ in engine.failures()] == [os.fsencode(binary)]
    assert engine.indexed_paths(files) == [path]
    path.rename(files / "cafe.md")
    assert engine.rename(path, files / "cafe.md") == 1
    assert found(engine) == [str(files / "cafe.md")]


def test_a_path_with_a_nul_byte_is_skipped(engine: IndexStore, files: Path) -> None:
    assert engine.index_file(files / "nul\0byte.md").skipped == (
        "an invalid path (embedded null byte)"
    )


def test_a_relative_path_is_refused(engine: IndexStore) -> None:
    for call in (
        lambda: engine.index_file(Path("notes.md")),
        lambda: engine.forget(Path("notes")),
        lambda: engine.rename(Path("/a"), Path("b")),
        lambda: engine.indexed_paths(Path("notes")),
    ):
        with pytest.raises(InvalidArgument, match="absolute path"):
            call()


def test_a_rename_into_itself_is_refused(engine: IndexStore, files: Path) -> None:
    with pytest.raises(InvalidArgument, match="inside"):
        engine.rename(files / "a", files / "a" / "b")


def test_failures_are_listed_newest_first(
    make_engine: Callable[..., IndexStore], files: Path, embedder: CountingEmbedder
) -> None:
    clock = [1000.0]
    engine = make_engine(clock=lambda: clock[0])
    for name in ("one.bin", "two.bin", "three.bin"):
        engine.index_file(write(files / name, b"\0"))
        clock[0] += 1

    assert [path for path, _ in engine.failures()] == [
        str(files / name) for name in ("three.bin", "two.bin", "one.bin")
    ]
    assert len(engine.failures(limit=2)) == 2
    assert embedder.calls == 0
    with pytest.raises(InvalidArgument):
        engine.failures(limit=-1)


def test_a_device_name_must_be_a_non_empty_string(engine: IndexStore) -> None:
    with pytest.raises(InvalidArgument):
        engine.set_device_visible("", False)
