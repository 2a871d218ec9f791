"""Recall latency over D-Bus with 100,000 memories of one user.

- noos: `Recall` (top 10) through the SDK (`noos.Memory`) to a `noosd memory`
  process on a private dbus-daemon, whose store holds 100,000 memories of the
  caller;
- baseline: the same query done in this process directly on a chromadb
  collection (cosine HNSW, chromadb's defaults, like the store's warm tier)
  holding the same 100,000 vectors.

Both embed the query, with the shipped MiniLM through the service's own
embedder (ONNX Runtime) on one thread, and both time that. More rows say
where the gap comes from: the store called in this process (no D-Bus), and
the query's embedding alone; and what hybrid recall's lexical stage costs:
the same store in this process ranking by the cosine alone (`fusion` none,
the store before hybrid recall), on its own copy of the state. The calls are
interleaved in blocks of BLOCK_QUERIES queries per side, so that a
neighbour's load on the shared cores hits every row alike while each side's
working set stays in cache.

Populating takes minutes (100,000 embeddings), so the vectors, the populated
state directory and the baseline's chromadb are cached under
build/bench-cache/, keyed by CORPUS_VERSION (and the store's code, chromadb's
version); each run works on a copy, so recalls (which promote what they
return) never change the cache.

The 100,000 are notes (a kind never pruned), remembered in batches over 90
simulated days and then consolidated, so the store sets its tiers as it
would over time: the 1,000 most recent hot (RAM), the rest warm (chromadb).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tests.bench.support import corpora
from tests.bench.support.embedding import CachingEmbedder, TimedEmbedder, Vectors, shipped_embedder
from tests.bench.support.environment import (
    CachedDirectory,
    chroma_client,
    directory_bytes,
    models_tree,
    scratch_copy,
    store_digest,
)
from tests.bench.support.tables import percentile_ms, print_table, verdict

if TYPE_CHECKING:
    pass

CORPUS_VERSION = "v1"
MEMORIES = 100_000
QUERIES = 500
WARM_UP = 20
BLOCK_QUERIES = 100
LIMIT = 10
BATCH = 1000
EMBED_CHUNK = 5000
SPAN_S = 90 * 86400.0
GOAL_P99_MS = 20.0
GOAL_RATIO = 1.3
COLLECTION = "baseline"
OPEN_TIMEOUT_S = 300.0


def corpus() -> tuple[list[str], Vectors]:
    """The texts and their vectors; embedding them is the cold cache's biggest cost."""
    texts = corpora.varied_memories(MEMORIES)
    cache = CachedDirectory(f"recall-{CORPUS_VERSION}-vectors")
    if cache.complete:
        return texts, np.load(cache.path / "vectors.npy")
    start = time.monotonic()
    print(f"embedding {MEMORIES:,} texts once (cached for later runs)...", flush=True)
    embedder = shipped_embedder()
    chunks = []
    for i in range(0, MEMORIES, EMBED_CHUNK):
        chunks.append(embedder.embed(texts[i : i + EMBED_CHUNK]))
        print(f"  {i + EMBED_CHUNK:,}", end="\r", flush=True)
    vectors = np.concatenate(chunks)
    path = cache.start()
    np.save(path / "vectors.npy", vectors)
    cache.finish()
    print(f"  {MEMORIES / (time.monotonic() - start):.0f} texts/s", flush=True)
    return texts, vectors


def populated_state(uid: int, texts: list[str], vectors: Vectors) -> Path:
    """A store state directory holding the corpus as `uid`'s memories."""
    from noosd.memory.store import MemoryStore, NewMemory

    cache = CachedDirectory(f"recall-{CORPUS_VERSION}-state-{uid}-{store_digest()}")
    if cache.complete:
        return cache.path / "state"
    print(f"populating the store with {MEMORIES:,} memories (cached)...", flush=True)
    start = time.monotonic()
    # Every text is known: the store gets the cached vectors, never the model.
    embedder = CachingEmbedder(shipped_embedder())
    embedder.preload(texts, vectors)
    first = time.time() - SPAN_S
    clock = [first]
    state = cache.start() / "state"
    store = MemoryStore(state, embedder, clock=lambda: clock[0])
    for i in range(0, MEMORIES, BATCH):
        clock[0] = first + SPAN_S * i / MEMORIES
        store.remember_many(uid, [NewMemory(text, "note") for text in texts[i : i + BATCH]])
    # As the service's hourly job would have by then: every warm memory in chromadb.
    store.consolidate()
    store.close()
    cache.finish()
    print(f"  {MEMORIES / (time.monotonic() - start):.0f} memories/s", flush=True)
    return state


def baseline_collection(vectors: Vectors) -> Path:
    """A chromadb directory holding the corpus's vectors, as the baseline searches them."""
    import chromadb

    cache = CachedDirectory(f"recall-{CORPUS_VERSION}-chroma-{chromadb.__version__}")
    if cache.complete:
        return cache.path / "chroma"
    print(f"building the baseline's chromadb collection of {MEMORIES:,} (cached)...", flush=True)
    path = cache.start() / "chroma"
    client = chroma_client(path)
    collection = client.create_collection(
        COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    batch = client.get_max_batch_size()
    for i in range(0, len(vectors), batch):
        collection.add(
            ids=[str(n) for n in range(i, min(i + batch, len(vectors)))],
            embeddings=vectors[i : i + batch],
        )
    client.close()  # type: ignore[attr-defined]  # at runtime, not in the stubs
    cache.finish()
    return path


class Samples:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def p(self, q: int) -> float:
        return percentile_ms(self.seconds, q)


async def wait_until_open(memory: object) -> None:
    """The service answers at once and opens its store in the background: wait for it."""
    from noos import Memory

    assert isinstance(memory, Memory)
    deadline = time.monotonic() + OPEN_TIMEOUT_S
    while True:
        try:
            await memory.stats()
            return
        except Exception:
            # A D-Bus reply timeout while a slow store opens: ask again.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def measure(
    uid: int, state: Path, chroma: Path, queries: list[str]
) -> tuple[dict[str, Samples], dict[str, int]]:
    from noos import Memory
    from noosd.memory.core import fusion
    from noosd.memory.core.config import MemoryConfig
    from noosd.memory.store import MemoryStore
    from tests.fixtures.noosd_process import NoosdProcess
    from tests.fixtures.private_bus import PrivateBus

    embedder = shipped_embedder()
    timed = TimedEmbedder(shipped_embedder())
    collection = chroma_client(chroma).get_collection(COLLECTION)
    samples = {
        name: Samples()
        for name in (
            "baseline",
            "embedding",
            "store",
            "store_rest",
            "cosine",
            "cosine_rest",
            "dbus",
        )
    }
    bus = PrivateBus()
    with (
        scratch_copy(state) as service_state,
        scratch_copy(state) as local_state,
        scratch_copy(state) as cosine_state,
    ):
        service = NoosdProcess(
            "memory",
            "--bus",
            bus.address,
            env={
                "NOOS_MEMORY_STATE_DIR": str(service_state),
                "NOOS_MODELS_DIR": str(models_tree()),
                # No consolidation during the measurement.
                "NOOS_MEMORY_CONSOLIDATE_S": str(24 * 3600),
            },
        )
        store = MemoryStore(local_state, timed)
        cosine_alone = MemoryStore(cosine_state, timed, MemoryConfig(fusion=fusion.NONE))
        try:
            service.wait_ready()
            memory = await Memory.connect(bus.address)
            start = time.monotonic()
            await wait_until_open(memory)
            print(f"the service opened its store in {time.monotonic() - start:.1f} s", flush=True)
            stats = await memory.stats()
            # In blocks, each side in turn: a neighbour's load still hits every
            # row alike, while each side runs with its own working set in the
            # shared cache (alternating every query, the service's model fell out
            # of it between its calls: a cost no real client pays).
            for start in range(0, len(queries), BLOCK_QUERIES):
                block = list(enumerate(queries))[start : start + BLOCK_QUERIES]
                for n, query in block:
                    started = time.perf_counter()
                    await memory.recall(query, LIMIT)
                    if n >= WARM_UP:
                        samples["dbus"].seconds.append(time.perf_counter() - started)
                for n, query in block:
                    started = time.perf_counter()
                    vector = embedder.embed([query])
                    embedding = time.perf_counter() - started
                    collection.query(
                        query_embeddings=vector, n_results=LIMIT, include=["distances"]
                    )
                    if n >= WARM_UP:
                        samples["baseline"].seconds.append(time.perf_counter() - started)
                        samples["embedding"].seconds.append(embedding)
                for in_process, name in ((store, "store"), (cosine_alone, "cosine")):
                    for n, query in block:
                        started = time.perf_counter()
                        in_process.recall(uid, query, LIMIT)
                        local = time.perf_counter() - started
                        if n >= WARM_UP:
                            samples[name].seconds.append(local)
                            samples[f"{name}_rest"].seconds.append(local - timed.durations[-1])
            await memory.close()
        finally:
            store.close()
            cosine_alone.close()
            status = service.terminate()
            bus.stop()
            if status != 0:
                print(f"noosd memory exited with {status}:\n{service.stderr[-2000:]}")
    return samples, stats


def main() -> None:
    uid = os.getuid()  # the SDK calls as this process's user: its memories are recalled
    texts, vectors = corpus()
    state = populated_state(uid, texts, vectors)
    chroma = baseline_collection(vectors)
    queries = corpora.recall_queries(WARM_UP + QUERIES)
    samples, stats = asyncio.run(measure(uid, state, chroma, queries))

    base = samples["baseline"]
    rows = []
    for name, label in (
        ("baseline", "baseline: chromadb in-process"),
        ("embedding", "  of which the query's embedding"),
        ("store", "noos store in-process"),
        ("store_rest", "  of which not the embedding"),
        ("cosine", "noos store in-process, cosine alone (no lexical stage)"),
        ("cosine_rest", "  of which not the embedding"),
        ("dbus", "noos Recall over D-Bus (SDK)"),
    ):
        s = samples[name]
        rows.append(
            (
                label,
                f"{s.p(50):.1f}",
                f"{s.p(99):.1f}",
                f"{s.p(50) / base.p(50):.2f}",
                f"{s.p(99) / base.p(99):.2f}",
            )
        )
    lexical = samples["store_rest"].p(50) - samples["cosine_rest"].p(50)
    rows.append(
        ("the lexical stage (p50 difference, not the embedding)", f"{lexical:.1f}", "", "", "")
    )
    dbus = samples["dbus"]
    ratio = dbus.p(99) / base.p(99)
    counts = ", ".join(
        f"{tier} {stats.get(f'{tier}_count', 0):,}" for tier in ("hot", "warm", "cold")
    )
    print_table(
        f"Recall latency, top {LIMIT}, {QUERIES} queries after {WARM_UP} warm-up, "
        f"{MEMORIES:,} memories of one user ({counts}; {directory_bytes(state) / 2**20:.0f} MiB)",
        ("", "p50 ms", "p99 ms", "p50/base", "p99/base"),
        rows,
    )
    print_table(
        "",
        ("goal", "measured", "verdict"),
        [
            (
                f"D-Bus p99 < {GOAL_P99_MS:.0f} ms",
                f"{dbus.p(99):.1f} ms",
                verdict(dbus.p(99) < GOAL_P99_MS),
            ),
            (f"D-Bus p99 <= {GOAL_RATIO}x baseline", f"{ratio:.2f}x", verdict(ratio <= GOAL_RATIO)),
        ],
    )


if __name__ == "__main__":
    main()
