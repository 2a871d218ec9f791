"""What a 64 MiB PDF costs `noosd index`, and the others while it is read.

A `noosd index` process on a private dbus-daemon is asked (IndexFile) for a
PDF of text just under the size a PDF may have (1700 pages, 63 MiB; the
watcher reads it too, as it is written into the watched root). Meanwhile
another caller indexes a small new note and searches, again and again, until
the PDF is indexed. Figures: that caller's IndexFile and Search latency,
against the same calls made before the PDF (the baseline, same service, same
run), and how far the service's peak resident size (VmHWM, reset just
before) rose above its resident size, against the PDF's size.

The service indexes at most NOOS_INDEX_MAX_PDF_TEXT_CHARS of a PDF's text:
here 100,000 characters, so that embedding them takes seconds on 2 shared
cores (the default, 2**20, is ten times that). Before the PDF was read as a
stream and its text capped (issue 14, finding 12), the same PDF cost the
service its whole bytes plus pypdf's extraction of every page (312 MiB, in
160 s here, out of process), then hours of embedding, some of it under the
writer lock, where other users' IndexFile waited.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from noos import Index
from tests.bench.support.environment import models_tree
from tests.bench.support.tables import percentile_ms, print_table, verdict
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.resident import kib, reset_peak
from tests.unit.index.pdfs import PDF_PAGES, book_pdf

BASELINE_CALLS = 20
PDF_TEXT_CHARS = 100_000
# Goals: the others' calls no slower than this many times their baseline
# (p50), and the peak rise under half the PDF's size (it is never held whole).
GOAL_SLOWDOWN = 5.0
GOAL_PEAK_OVER_SIZE = 0.5


async def victim_calls(index: Index, root: Path, round_: int) -> tuple[float, float]:
    """One IndexFile of a new note and one Search: their durations (s)."""
    note = root / f"victim/note-{round_}.txt"
    note.write_text(f"Note {round_}: the lentils and saffron for the stew.\n")
    start = time.monotonic()
    await index.index_file(str(note))
    indexed = time.monotonic()
    await index.search("lentils saffron stew", limit=5)
    return indexed - start, time.monotonic() - indexed


async def measure(address: str, root: Path, pid: int) -> dict[str, object]:
    async with await Index.connect(address) as index:
        await index.search("warm", limit=1)  # waits for the engine to open
        await victim_calls(index, root, -1)
        # As much text embedded once as the PDF will have: the model's buffers
        # grow to their largest batch, and that is not the PDF's doing.
        warm = root / "victim/warm.txt"
        warm.write_text("".join(f"Warming up, line {line} of many.\n" for line in range(4000)))
        await index.index_file(str(warm))
        idle = [await victim_calls(index, root, n) for n in range(BASELINE_CALLS)]
        book = root / "mallory/book.pdf"
        book.write_bytes(book_pdf(PDF_PAGES))
        reset_peak(pid)
        resident = kib(pid, "VmRSS")
        started = time.monotonic()
        reading = asyncio.ensure_future(index.index_file(str(book)))
        busy = []
        while not reading.done():
            busy.append(await victim_calls(index, root, BASELINE_CALLS + len(busy)))
        await reading
        return {
            "idle": idle,
            "busy": busy,
            "pdf_s": time.monotonic() - started,
            "peak_rise_kib": kib(pid, "VmHWM") - resident,
            "size_kib": book.stat().st_size // 1024,
        }


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="noos-bench-pdf-"))
    state = Path(tempfile.mkdtemp(prefix="noos-bench-pdf-state-"))
    (root / "victim").mkdir()
    (root / "mallory").mkdir()
    bus = PrivateBus()
    service = NoosdProcess(
        "index",
        "--bus",
        bus.address,
        env={
            "NOOS_INDEX_STATE_DIR": str(state),
            "NOOS_INDEX_ROOTS": str(root),
            "NOOS_INDEX_MEDIA_DIRS": "",
            "NOOS_INDEX_MAX_PDF_TEXT_CHARS": str(PDF_TEXT_CHARS),
            "NOOS_MODELS_DIR": str(models_tree()),
        },
    ).wait_ready()
    try:
        figures = asyncio.run(measure(bus.address, root, service.process.pid))
    finally:
        service.terminate()
        bus.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
    idle, busy = figures["idle"], figures["busy"]
    assert isinstance(idle, list) and isinstance(busy, list)
    rows = []
    for column, name in ((0, "IndexFile of a note"), (1, "Search")):
        before = percentile_ms([calls[column] for calls in idle], 50)
        during = percentile_ms([calls[column] for calls in busy], 50)
        slowdown = during / before
        rows.append(
            [
                f"{name}, p50",
                f"{before:.0f} ms",
                f"{during:.0f} ms",
                f"{slowdown:.1f}x",
                verdict(slowdown <= GOAL_SLOWDOWN),
            ]
        )
    size_kib, rise_kib = figures["size_kib"], figures["peak_rise_kib"]
    assert isinstance(size_kib, int) and isinstance(rise_kib, int)
    rows.append(
        [
            "peak RSS rise vs PDF size",
            f"{size_kib // 1024} MiB",
            f"{rise_kib // 1024} MiB",
            f"{rise_kib / size_kib:.2f}x",
            verdict(rise_kib / size_kib <= GOAL_PEAK_OVER_SIZE),
        ]
    )
    print_table(
        f"another caller while a {size_kib // 1024} MiB PDF is indexed "
        f"({len(busy)} rounds, PDF indexed in {figures['pdf_s']:.0f} s)",
        ["figure", "baseline", "during", "ratio", "goal"],
        rows,
    )
