"""Cheap exhaustion of org.noos.Index1 by another user, on a private bus with
the real service: a PDF as large as may be indexed (64 MiB) costs the
service its extracted text, not its bytes, and the others' calls are served
while it is read."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos import Index
from noos.bus import Connection
from tests.fixtures.index import running_index
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.resident import kib, reset_peak
from tests.integration.index.test_index import (
    NOBODY,
    eventually,
    found,
    requests_as,
    write,
)
from tests.unit.index.pdfs import PDF_PAGES, book_pdf, pdf_with_text

# Characters of a PDF's text indexed here: a few chunks, quick to embed.
PDF_TEXT_CHARS = 20_000

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="noos-exhaust-"))
    base.chmod(0o755)
    (base / "mallory").mkdir()
    os.chown(base / "mallory", NOBODY, NOBODY)
    (base / "victim").mkdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def index_service(
    bus_address: str, home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NoosdProcess]:
    state = tmp_path_factory.mktemp("index-state")
    settings = {"NOOS_INDEX_MAX_PDF_TEXT_CHARS": str(PDF_TEXT_CHARS)}
    with running_index(bus_address, state, home, settings=settings) as process:
        yield process


async def test_a_large_pdf_costs_its_text_not_its_bytes_and_others_are_served(
    index_service: NoosdProcess, connection: Connection, bus_address: str, home: Path
) -> None:
    index = Index(connection)
    # Warm: the engine open, the model loaded, and as much text embedded at
    # once as the PDF will have (the model's buffers grow to the batch).
    filler = "".join(f"Warming up the index, line {line} of many.\n" for line in range(600))
    warm = write(home / "victim/warm.txt", "Warming up the index with a first note.\n" + filler)
    await eventually(lambda: found(index, "warming up the index", warm))
    # and pypdf imported (17 MiB), by a small PDF.
    leaflet = home / "victim/leaflet.pdf"
    leaflet.write_bytes(pdf_with_text([["A leaflet about the weekly market."]]))
    await eventually(lambda: found(index, "leaflet weekly market", leaflet))
    # The same calls with a short book first: what they cost besides the book's size.
    short_kib, _ = await peak_growth(
        index, index_service, bus_address, home / "mallory/short.pdf", 3
    )
    grown_kib, size_kib = await peak_growth(
        index, index_service, bus_address, home / "mallory/book.pdf", PDF_PAGES
    )
    assert grown_kib - short_kib < size_kib // 2, (
        f"reading a {size_kib} KiB PDF took {grown_kib} KiB more, a short one {short_kib} KiB"
    )


async def peak_growth(
    index: Index, service: NoosdProcess, bus_address: str, book: Path, pages: int
) -> tuple[int, int]:
    """How much the service's peak resident size grew (KiB) while Mallory had
    a PDF of `pages` pages indexed and the victim indexed and searched; and
    the PDF's size (KiB). Checks that every call was served, and that only
    the first PDF_TEXT_CHARS of the PDF's text were indexed."""
    pid = service.process.pid
    size_kib = write_book(book, pages)
    reset_peak(pid)
    resident_kib = kib(pid, "VmRSS")
    # Mallory asks for it as the watcher reads it; the victim indexes and searches meanwhile.
    note = write(
        book.parents[1] / f"victim/note-{pages}.txt",
        "The victim's shopping list: lentils and saffron.\n",
    )
    mallory, indexed, hits = await asyncio.gather(
        requests_as(NOBODY, bus_address, f"index:{book}"),
        index.index_file(str(note)),
        index.search("shopping list lentils", limit=5),
    )
    grown_kib = kib(pid, "VmHWM") - resident_kib
    assert mallory == [{"skipped": ""}]
    assert indexed.skipped is None
    assert isinstance(hits, list)
    assert await found(index, "shopping list lentils", note)
    await eventually(lambda: found(index, "aardvark burrow", book, "aardvark"))
    if pages > 1:  # only the first PDF_TEXT_CHARS of its text
        assert not await found(index, "zeppelin hangar", book, "zeppelin")
    return grown_kib, size_kib


def write_book(book: Path, pages: int) -> int:
    """Mallory's PDF of `pages` pages at `book`; its size in KiB."""
    book.write_bytes(book_pdf(pages))
    os.chown(book, NOBODY, NOBODY)
    return book.stat().st_size // 1024
