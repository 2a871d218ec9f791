"""A directory of 100,000 files under an indexed root: a real `noosd index`
(the shipped model, inotify, SQLite and chromadb) on a private dbus-daemon of
its own crawls it without stalling, answers meanwhile, indexes a fresh edit
at once, says why it skipped the files it could not index, and loses none
of them when they are written faster than inotify can report.

Most of the files are empty: the service stats, reads, hashes and records
each one (a crawl's cost per file) without embedding 100,000 chunks, which
the model alone would take minutes to do on two cores. A few hold text to
find, and a few cannot be indexed (binary, too large)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from noos import Index, IndexStatus
from tests.fixtures.index import progress_signals, running_index
from tests.fixtures.private_bus import PrivateBus

FILES = 100_000
# One file in this many holds a line of text with a word of its own.
TEXT_EVERY = 5_000
BINARY_FILES = 5
TOO_LARGE_BYTES = 5 * 2**20  # past the 4 MiB limit on text; sparse, so it costs nothing
SKIPPED = BINARY_FILES + 1
# Limits, on two busy cores, where each test takes one to two minutes.
START_WITHIN_S = 60.0
FRESH_WITHIN_S = 20.0
INDEXED_WITHIN_S = 300.0
# A status or a search that takes this long means the service is stalled.
ANSWER_WITHIN_S = 5.0
POLL_S = 0.5


def word_of(number: int) -> str:
    """A word that only the text file `number` holds (the lexical ranking finds it at once)."""
    return f"heron{number:06d}quill"


def create_files(directory: Path, count: int) -> list[Path]:
    """`count` files in a new `directory`, empty but for one in TEXT_EVERY,
    which holds a line with a word of its own; those, the text files."""
    directory.mkdir()
    text_files = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for number in range(count):
        path = directory / f"{number:06d}.txt"
        descriptor = os.open(path, flags, 0o644)
        if number % TEXT_EVERY == 0:
            os.write(descriptor, f"Entry {number}: the {word_of(number)} ledger.\n".encode())
            text_files.append(path)
        os.close(descriptor)
    return text_files


def create_unindexable_files(directory: Path) -> list[Path]:
    """SKIPPED files in `directory` that cannot be indexed: binary ones, then one too large."""
    skipped = []
    for number in range(BINARY_FILES):
        binary = directory / f"binary-{number}.txt"
        binary.write_bytes(b"\x7fELF\0\1\2\3" * 64)
        skipped.append(binary)
    too_large = directory / "too-large.txt"
    with too_large.open("wb") as opened:
        opened.truncate(TOO_LARGE_BYTES)
    skipped.append(too_large)
    return skipped


@pytest.fixture
def home() -> Iterator[Path]:
    """The indexed root, in a world-searchable directory (unlike tmp_path), with
    `elsewhere` in it, a directory for the files written while the service works."""
    base = Path(tempfile.mkdtemp(prefix="noos-index-many-"))
    base.chmod(0o755)
    (base / "home/elsewhere").mkdir(parents=True)
    yield base / "home"
    shutil.rmtree(base, ignore_errors=True)


Serve = Callable[[], AbstractAsyncContextManager[Index]]


@pytest.fixture
def serve(home: Path, tmp_path: Path) -> Serve:
    """Serves `home` by a `noosd index` on a bus of its own (the test's, not
    test_index's), for as long as the returned context lasts; the service
    must then exit cleanly."""

    @asynccontextmanager
    async def serving() -> AsyncIterator[Index]:
        bus = PrivateBus()
        try:
            with running_index(bus.address, tmp_path / "index-state", home) as process:
                async with await Index.connect(bus.address) as index:
                    yield index
        finally:
            bus.stop()
        assert "Traceback" not in process.stderr, process.stderr

    return serving


class Timed:
    """The service's answers, each timed: the slowest so far is in `slowest_s`."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.slowest_s = 0.0

    async def status(self) -> IndexStatus:
        asked = time.monotonic()
        status = await self.index.status()
        self._answered(asked)
        return status

    async def finds(self, word: str, path: Path) -> bool:
        asked = time.monotonic()
        hits = await self.index.search(word, limit=5)
        self._answered(asked)
        return any(hit.path == str(path) and word in hit.snippet for hit in hits)

    async def found_within(self, word: str, path: Path, within: float) -> float:
        """Search for `word` until `path` is found; how long that took."""
        began = time.monotonic()
        while not await self.finds(word, path):
            assert time.monotonic() - began < within, f"{path} was not found within {within} s"
            await asyncio.sleep(0.1)
        return time.monotonic() - began

    async def until(self, check: Callable[[IndexStatus], bool], within: float) -> IndexStatus:
        """Poll the status until `check` holds; that status."""
        deadline = time.monotonic() + within
        while not check(status := await self.status()):
            assert time.monotonic() < deadline, f"not true within {within} s; last {status}"
            await asyncio.sleep(POLL_S)
        return status

    def _answered(self, asked: float) -> None:
        self.slowest_s = max(self.slowest_s, time.monotonic() - asked)


@pytest.mark.timeout(START_WITHIN_S + INDEXED_WITHIN_S + 120)
async def test_a_directory_of_100000_files_is_crawled_while_the_service_stays_responsive(
    home: Path, serve: Serve
) -> None:
    created = time.monotonic()
    text_files = create_files(home / "many", FILES - SKIPPED)
    skipped = create_unindexable_files(home / "many")
    created_s = time.monotonic() - created
    async with serve() as index:
        progress = await progress_signals(index.connection)
        timed = Timed(index)
        at_start = await timed.until(
            lambda status: status.crawling and status.files_indexed > 0, START_WITHIN_S
        )
        began = time.monotonic()

        # Written during the crawl, in another directory: the watcher indexes
        # it at normal priority, between two of the crawl's batches.
        word = "kestrel7741marrow"
        note = home / "elsewhere/note.txt"
        note.write_text(f"The {word} recipe needs saffron.\n")
        fresh_s = await timed.found_within(word, note, FRESH_WITHIN_S)
        when_fresh = await timed.status()
        assert when_fresh.crawling, "the crawl was over before the note was found"
        assert at_start.files_indexed < when_fresh.files_indexed < FILES // 2

        end = await timed.until(lambda status: not status.crawling, INDEXED_WITHIN_S)
        ended = time.monotonic()
        assert (end.files_indexed, end.failed) == (FILES - SKIPPED + 1, SKIPPED)  # 1: the note
        assert timed.slowest_s < ANSWER_WITHIN_S

        # Each skipped file says why.
        reasons = [(await index.index_file(path)).skipped or "" for path in skipped]
        assert all(reason.startswith("binary content") for reason in reasons[:BINARY_FILES])
        assert reasons[-1] == f"{TOO_LARGE_BYTES} bytes; the most indexed for text is {4 * 2**20}"
        for path in (text_files[0], text_files[-1]):
            assert await timed.finds(word_of(int(path.stem)), path)

        # Progress was reported as it went, every second or so, and only ever grew.
        deadline = time.monotonic() + ANSWER_WITHIN_S
        while not progress or progress[-1][0] < FILES:
            assert time.monotonic() < deadline, f"the last Progress said {progress[-1:]}"
            await asyncio.sleep(0.1)
        done = [files_done for files_done, _ in progress]
        assert done == sorted(done)
        assert len(done) >= (ended - began) / 3
    print(
        f"\n{FILES} files created in {created_s:.1f} s; crawled in about {ended - began:.1f} s; "
        f"the note found {fresh_s:.2f} s after its write, at {when_fresh.files_indexed} files "
        f"indexed; slowest answer {timed.slowest_s:.2f} s; {len(progress)} Progress signals"
    )


@pytest.mark.timeout(START_WITHIN_S + INDEXED_WITHIN_S + 120)
async def test_100000_files_written_at_once_under_a_watched_root_are_all_indexed(
    home: Path, serve: Serve
) -> None:
    """More events than inotify's queue holds (16,384 by default): the kernel
    drops some, and the service crawls the root to find what they said."""
    (home / "elsewhere/seed.txt").write_text("Found by the first crawl.\n")
    async with serve() as index:
        timed = Timed(index)
        # The first crawl over: the root is watched (before it begins) and quiet.
        before = await timed.until(
            lambda status: status.files_indexed == 1 and not status.crawling, START_WITHIN_S
        )
        created = time.monotonic()
        writing = asyncio.create_task(asyncio.to_thread(create_files, home / "many", FILES))
        while not writing.done():
            await timed.status()  # it answers meanwhile
            await asyncio.sleep(POLL_S)
        text_files = await writing
        created_s = time.monotonic() - created

        word = "kestrel7741marrow"
        note = home / "elsewhere/note.txt"
        note.write_text(f"The {word} recipe needs saffron.\n")
        fresh_s = await timed.found_within(word, note, INDEXED_WITHIN_S)

        end = await timed.until(
            lambda status: status.files_indexed == FILES + 2 and status.queued == 0,
            INDEXED_WITHIN_S,
        )
        indexed_s = time.monotonic() - created
        assert end.failed == before.failed == 0
        assert timed.slowest_s < ANSWER_WITHIN_S
        for path in (text_files[0], text_files[-1]):
            assert await timed.finds(word_of(int(path.stem)), path)
    print(
        f"\n{FILES} files created in {created_s:.1f} s under the watched root; all indexed "
        f"{indexed_s:.1f} s after the first; a note written after them found in {fresh_s:.2f} s; "
        f"slowest answer {timed.slowest_s:.2f} s"
    )
