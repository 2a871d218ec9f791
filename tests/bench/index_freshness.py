"""How fresh the file index is, and how fast its crawl goes.

Freshness: the time from a file's close after a write to a search that finds
its new content. A `noosd index` process on a private dbus-daemon watches a
directory of 20 files; each of 200 edits rewrites one of them with a sentence
holding a word no file had (the lexical ranking finds it at once), closes it,
and searches for that word through the SDK every 20 ms until the file's
snippet shows it. The figure includes the watcher's pause for the file to go
quiet (NOOS_INDEX_QUIET_S, 0.3 s by default: an editor's save is a burst of
events), the engine's re-index (one chunk embedded) and a search over D-Bus.
The baseline is the floor without the watcher and the bus: the same engine,
in-process, indexing the file and searching right after the write.

Crawl throughput: the crawler (the service's, at its lowest priority, in
batches of 16 files, ignore rules applied) indexes a copy of part of this
venv's site-packages into a fresh engine: files and chunks per second. The
baseline is raw sentence-transformers encoding the same chunks in batches of
the same size, on a thread of the same priority (the issue's baseline: what
an indexer that only embedded would cost); a second row is the service's own
embedder (ONNX) alone, so that what a crawl costs beyond embedding (reading,
chunking, hashing, SQLite, chromadb) shows too.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

from noos import Index
from noosd.index.core.chunking import chunk_file
from noosd.index.core.filetypes import file_type
from noosd.index.live.crawler import CHECKPOINT_FILE, Crawler, walk
from noosd.index.live.priority import idle_this_thread
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.shared.embedding import Embedder, SentenceTransformerEmbedder
from tests.bench.support.embedding import shipped_embedder
from tests.bench.support.environment import EMBEDDING_THREADS, embedding_model_dir, models_tree
from tests.bench.support.tables import percentile_ms, print_table, verdict
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus

EDITS = 200
FILES = 20
POLL_S = 0.02
QUIET_S = 0.3
CRAWL_BATCH = 16
# Packages of the venv: ~340 files, ~2,500 chunks (2.0 MB of text) between them.
CRAWLED_PACKAGES = ("dateparser", "dbus_fast", "watchdog", "pathspec")
GOAL_FRESH_P95_S = 2.0
GOAL_CRAWL_THROUGHPUT = 0.8  # crawl chunks/s over raw sentence-transformers' chunks/s


def sentence(edit: int) -> tuple[str, str]:
    """A line for edit `edit`, and the word in it that no other edit wrote."""
    word = f"quokka{edit:04d}zeta"
    return word, f"Edit {edit}: the {word} ledger balances the orchard accounts.\n"


async def service_freshness(address: str, root: Path) -> list[float]:
    samples = []
    async with await Index.connect(address) as index:
        await index.search("orchard accounts", limit=1)  # waits for the engine to open
        for edit in range(EDITS):
            path = root / f"ledger-{edit % FILES:02d}.txt"
            word, text = sentence(edit)
            path.write_text(text)  # closed on return: IN_CLOSE_WRITE
            written = time.monotonic()
            while not any(
                hit.path == str(path) and word in hit.snippet
                for hit in await index.search(word, limit=3)
            ):
                if time.monotonic() - written > 60:
                    raise RuntimeError(f"edit {edit} was not searchable within 60 s")
                await asyncio.sleep(POLL_S)
            samples.append(time.monotonic() - written)
    return samples


def measure_service(root: Path, state: Path) -> list[float]:
    bus = PrivateBus()
    service = NoosdProcess(
        "index",
        "--bus",
        bus.address,
        env={
            "NOOS_INDEX_STATE_DIR": str(state),
            "NOOS_INDEX_ROOTS": str(root),
            "NOOS_INDEX_MEDIA_DIRS": "",
            "NOOS_INDEX_QUIET_S": str(QUIET_S),
            "NOOS_MODELS_DIR": str(models_tree()),
        },
    ).wait_ready()
    try:
        return asyncio.run(service_freshness(bus.address, root))
    finally:
        service.terminate()
        bus.stop()


def measure_engine(root: Path, state: Path) -> list[float]:
    from noosd.index.storage.access import Caller
    from noosd.index.store import IndexStore

    engine = IndexStore(state, shipped_embedder())
    me = Caller(0, frozenset({0}))
    samples = []
    try:
        for edit in range(EDITS):
            path = root / f"ledger-{edit % FILES:02d}.txt"
            word, text = sentence(edit)
            path.write_text(text)
            written = time.monotonic()
            engine.index_file(path)
            hits = engine.search(word, 3, me)
            assert any(hit.path == str(path) for hit in hits)
            samples.append(time.monotonic() - written)
    finally:
        engine.close()
    return samples


def crawl_tree(work: Path) -> Path:
    """A copy of some pure-Python packages of this venv's site-packages."""
    site = Path(sysconfig.get_paths()["purelib"])
    root = work / "site-packages"
    for package in CRAWLED_PACKAGES:
        if (site / package).is_dir():
            shutil.copytree(site / package, root / package)
    return root


def measure_crawl(root: Path, state: Path) -> tuple[float, int, int]:
    """Seconds the crawler takes over `root`; files and chunks it indexed."""
    from noosd.index.store import IndexStore

    engine = IndexStore(state, shipped_embedder())
    roots = RootSet()
    roots.add(IndexedRoot(root))
    crawler = Crawler(engine, roots, state / CHECKPOINT_FILE, batch_size=CRAWL_BATCH)
    start = time.monotonic()
    crawler.start(catch_up=[root])
    while crawler.crawling:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    crawler.stop()
    status = engine.status()
    engine.close()
    return elapsed, status.files, status.chunks


def measure_embedding(root: Path, embedder: Embedder) -> tuple[float, int]:
    """Seconds `embedder` alone takes over the crawl's chunks, batch by batch; how many."""
    batches: list[list[str]] = []
    files = [entry.path for entry in walk(IndexedRoot(root), root) if not entry.ignored]
    for start in range(0, len(files), CRAWL_BATCH):
        texts: dict[str, None] = {}
        for path in files[start : start + CRAWL_BATCH]:
            data = path.read_bytes()
            try:
                texts.update(
                    (chunk.text, None) for chunk in chunk_file(data, file_type(path, data))
                )
            except Exception:
                continue  # the crawl skips it too
        batches.append(list(texts))
    embedder.embed(["warm up"])
    elapsed: list[float] = []

    def embed_all() -> None:
        idle_this_thread()  # the crawler's priority
        start = time.monotonic()
        for batch in batches:
            if batch:
                embedder.embed(batch)
        elapsed.append(time.monotonic() - start)

    thread = threading.Thread(target=embed_all)
    thread.start()
    thread.join()
    return elapsed[0], sum(len(batch) for batch in batches)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="noos-bench-index-") as work_dir:
        work = Path(work_dir)
        for name in ("watched", "service-state", "engine-state", "crawl-state"):
            (work / name).mkdir()
        for n in range(FILES):
            (work / "watched" / f"ledger-{n:02d}.txt").write_text("The orchard accounts.\n")
        print(f"freshness: {EDITS} edits through noosd index...", flush=True)
        served = measure_service(work / "watched", work / "service-state")
        print(f"freshness: {EDITS} edits through the engine in-process...", flush=True)
        floor = measure_engine(work / "watched", work / "engine-state")
        tree = crawl_tree(work)
        print("crawl: the crawler...", flush=True)
        crawl_s, files, chunks = measure_crawl(tree, work / "crawl-state")
        print("crawl: sentence-transformers alone...", flush=True)
        raw_s, embedded = measure_embedding(
            tree, SentenceTransformerEmbedder(embedding_model_dir(), threads=EMBEDDING_THREADS)
        )
        print("crawl: the service's embedder alone...", flush=True)
        embed_s, _ = measure_embedding(tree, shipped_embedder())

    print_table(
        f"Freshness: a write's close to a search that finds it, {EDITS} edits of {FILES} files",
        ("", "p50 ms", "p95 ms", "mean ms"),
        [
            (
                label,
                f"{percentile_ms(samples, 50):.0f}",
                f"{percentile_ms(samples, 95):.0f}",
                f"{statistics.fmean(samples) * 1e3:.0f}",
            )
            for label, samples in (
                (f"noosd index over D-Bus (quiet {QUIET_S} s)", served),
                ("baseline: engine in-process, index then search", floor),
            )
        ],
    )
    print_table(
        f"Crawl of {files:,} files ({chunks:,} chunks) of site-packages, {CRAWL_BATCH} a batch",
        ("", "s", "files/s", "chunks/s"),
        [
            (
                "noos crawler (walk, read, chunk, embed, store)",
                f"{crawl_s:.1f}",
                f"{files / crawl_s:.0f}",
                f"{chunks / crawl_s:.0f}",
            ),
            (
                f"baseline: sentence-transformers alone ({embedded:,} texts)",
                f"{raw_s:.1f}",
                "",
                f"{embedded / raw_s:.0f}",
            ),
            (
                "  the service's embedder (ONNX) alone",
                f"{embed_s:.1f}",
                "",
                f"{embedded / embed_s:.0f}",
            ),
        ],
    )
    throughput = (chunks / crawl_s) / (embedded / raw_s)
    fresh_p95 = percentile_ms(served, 95) / 1e3
    print_table(
        "",
        ("goal", "measured", "verdict"),
        [
            (
                f"freshness p95 < {GOAL_FRESH_P95_S:g} s",
                f"{fresh_p95:.2f} s",
                verdict(fresh_p95 < GOAL_FRESH_P95_S),
            ),
            (
                f"crawl throughput >= {GOAL_CRAWL_THROUGHPUT:g}x sentence-transformers",
                f"{throughput:.2f}x",
                verdict(throughput >= GOAL_CRAWL_THROUGHPUT),
            ),
        ],
    )


if __name__ == "__main__":
    main()
