"""A stream of 1,000,000 events over 60 simulated days: what is kept, and what is found.

The events are one user's: almost all trivial shell commands (`ls`, `cd`,
`git status` and small variations, drawn Zipf-like from a vocabulary of about
1,400), among them 2,000 important ones (unique facts and fixed errors, kinds
`fact` and `note`) and 200 pinned notes, at random places in the stream. They
go through the store in order, in batches of `remember_many` at the time of
the batch's first event (the store's clock is simulated), and the store
consolidates at the end of every simulated day, as its periodic job would.

Then the store's bytes on disk are compared with storing everything, which is
defined per event as the UTF-8 text, its float32 vector (384 x 4 bytes) and
its metadata as JSON (the metadata, the kind and the time), summed over all
events. And the important and pinned events are recalled (top 10) with a
question that paraphrases each, then with its own text. A hit is the event's
own memory among the ten: a fact merged into a near-duplicate lost its text,
so it is missed. A recall promotes what it returns, so each probe runs on a
fresh copy of the consolidated state (all 200 pinned events and a sample of
500 others); the same questions asked in a row on one store are reported too,
as are plain cosine's hits over every distinct text once (what the
embeddings allow).

Embedding a million texts would take most of a day on two cores; identical
text, identical vector, so the model sits behind a cache by text (persisted
under build/bench-cache/): the stream embeds about 5,800 distinct texts, once.
A 20,000-event probe first measures the store's rate: if a million events
would not fit in STREAM_BUDGET_S, the stream is shortened (same 60 days, same
important events) and the output says so.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noos.protocol.errors import NotFound
from noosd.memory.core.model import TierStats
from noosd.memory.store import MemoryStore, NewMemory
from tests.bench.support import corpora
from tests.bench.support.embedding import CachingEmbedder, cached_embedder
from tests.bench.support.environment import CACHE_ROOT, directory_bytes
from tests.bench.support.tables import print_table, verdict

EVENTS = 1_000_000
IMPORTANT = 2_000
PINNED = 200
DAYS = 60
DAY_S = 86400.0
BATCH = 250
LIMIT = 10
UID = 4242
PROBE_EVENTS = 20_000
ISOLATED_SAMPLE = 500
STREAM_BUDGET_S = 600.0
GOAL_BYTES = 0.06
GOAL_RECALLED = 0.95
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC: a fixed start, reproducible ages
VECTOR_BYTES = 384 * 4


@dataclass(frozen=True)
class Event:
    at: float
    text: str
    kind: str
    metadata: dict[str, str | int]
    important: corpora.ImportantEvent | None = None
    pinned: bool = False

    def naive_bytes(self) -> int:
        """What storing this event whole costs: text, float32 vector, metadata as JSON."""
        record = {"kind": self.kind, "created_at": self.at, **self.metadata}
        return len(self.text.encode()) + VECTOR_BYTES + len(json.dumps(record).encode())


def stream(
    events: int, important: list[corpora.ImportantEvent], pinned_count: int
) -> Iterator[Event]:
    """`events` events over DAYS days: the important ones at random places, the rest trivial."""
    rng = random.Random(6)
    special = rng.sample(range(events), len(important))
    by_position = dict(zip(special, important, strict=True))
    pinned_positions = set(special[:pinned_count])
    commands = corpora.trivial_stream(corpora.trivial_vocabulary())
    span = DAYS * DAY_S
    for position in range(events):
        at = START + span * position / events
        fact = by_position.get(position)
        if fact is None:
            yield Event(at, next(commands), "command", {"source": "shell", "exit": 0})
        elif position in pinned_positions:
            yield Event(at, fact.text, "note", {"source": "user"}, fact, pinned=True)
        else:
            yield Event(at, fact.text, fact.kind, {"source": "assistant"}, fact)


@dataclass
class StreamResult:
    events: int = 0
    naive_bytes: int = 0
    feed_s: float = 0.0
    consolidate_s: float = 0.0
    merged: int = 0
    pruned: int = 0
    ids: dict[str, corpora.ImportantEvent] = field(default_factory=dict)
    pinned: set[str] = field(default_factory=set)


def feed(store: MemoryStore, events: Iterator[Event], clock: list[float]) -> StreamResult:
    """Every event into the store, consolidating at each simulated midnight."""
    result = StreamResult()
    day = 0
    batch: list[Event] = []

    def flush() -> None:
        if not batch:
            return
        clock[0] = batch[0].at
        start = time.perf_counter()
        memories = store.remember_many(UID, [NewMemory(e.text, e.kind, e.metadata) for e in batch])
        for event, memory in zip(batch, memories, strict=True):
            if event.important is not None:
                result.ids[memory.id] = event.important
                if event.pinned:
                    store.pin(UID, memory.id, True)
                    result.pinned.add(memory.id)
        result.feed_s += time.perf_counter() - start
        batch.clear()

    def consolidate(at: float) -> None:
        clock[0] = at
        start = time.perf_counter()
        report = store.consolidate()
        result.consolidate_s += time.perf_counter() - start
        result.merged += report.merged
        result.pruned += report.pruned

    for event in events:
        if event.at >= START + (day + 1) * DAY_S:
            flush()
            day = int((event.at - START) // DAY_S)
            consolidate(START + day * DAY_S)
        batch.append(event)
        result.events += 1
        result.naive_bytes += event.naive_bytes()
        if len(batch) == BATCH:
            flush()
    flush()
    consolidate(START + DAYS * DAY_S)
    return result


@dataclass
class Recalled:
    """Recall@10 hits of the important (not pinned) and of the pinned events."""

    hits: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    asked: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    merged_away: int = 0  # found no more: merged into a near-duplicate, their text gone

    def add(self, pinned: bool, hit: bool) -> None:
        self.asked[pinned] += 1
        self.hits[pinned] += hit

    def rate(self, pinned: bool) -> float:
        return self.hits[pinned] / self.asked[pinned] if self.asked[pinned] else float("nan")


def probes(result: StreamResult) -> list[tuple[str, corpora.ImportantEvent]]:
    """Every pinned event and a seeded sample of the others: what is probed one by one."""
    others = [item for item in result.ids.items() if item[0] not in result.pinned]
    sample = random.Random(7).sample(others, min(ISOLATED_SAMPLE, len(others)))
    return [item for item in result.ids.items() if item[0] in result.pinned] + sample


def recalled_in_isolation(
    state: Path, embedder: CachingEmbedder, clock: list[float], result: StreamResult, by_query: bool
) -> Recalled:
    """Each probe recalls on a fresh copy of the consolidated state.

    A recall promotes what it returns (recency 1, importance up), so probes
    asked one after another on one store would rank by what the previous
    probes returned; a copy each keeps them independent (~0.1 s a probe).
    """
    recalled = Recalled()
    for memory_id, fact in probes(result):
        copy = state.with_name("probe")
        shutil.copytree(state, copy)
        store = open_store(copy, embedder, clock)
        hits = store.recall(UID, fact.query if by_query else fact.text, LIMIT)
        # Only the memory itself: a fact merged into another lost its own text.
        recalled.add(memory_id in result.pinned, any(hit.memory.id == memory_id for hit in hits))
        try:
            store.get(UID, memory_id)
        except NotFound:
            recalled.merged_away += 1
        store.close()
        shutil.rmtree(copy)
    return recalled


def recalled_in_a_row(store: MemoryStore, result: StreamResult) -> Recalled:
    """Every important and pinned event asked by paraphrase, one after another on one store."""
    recalled = Recalled()
    for memory_id, fact in result.ids.items():
        hits = store.recall(UID, fact.query, LIMIT)
        recalled.add(memory_id in result.pinned, any(hit.memory.id == memory_id for hit in hits))
    return recalled


def cosine_reference(embedder: CachingEmbedder, important: list[corpora.ImportantEvent]) -> float:
    """Recall@10 by paraphrase of plain cosine over every distinct text of the stream once:
    what the embeddings allow, with nothing forgotten and no scoring."""
    texts = corpora.trivial_vocabulary() + [fact.text for fact in important]
    vectors = embedder.embed(texts)
    queries = embedder.embed([fact.query for fact in important])
    top = np.argsort(-(queries @ vectors.T), axis=1)[:, :LIMIT]
    own = np.arange(len(texts) - len(important), len(texts))
    return float(np.mean([row in wanted for row, wanted in zip(own, top, strict=True)]))


def open_store(state: Path, embedder: CachingEmbedder, clock: list[float]) -> MemoryStore:
    return MemoryStore(state, embedder, clock=lambda: clock[0])


def events_that_fit(embedder: CachingEmbedder, important: list[corpora.ImportantEvent]) -> int:
    """EVENTS, or fewer when the store's rate on a probe says a million won't fit the budget."""
    clock = [START]
    with tempfile.TemporaryDirectory(dir=CACHE_ROOT, prefix="scratch-") as state:
        store = open_store(Path(state), embedder, clock)
        # The probe's events are the first PROBE_EVENTS of the real stream, at its pace.
        probe = (
            e for _, e in zip(range(PROBE_EVENTS), stream(EVENTS, important, PINNED), strict=False)
        )
        start = time.monotonic()
        feed(store, probe, clock)
        elapsed = time.monotonic() - start
        store.close()
    rate = PROBE_EVENTS / elapsed
    print(f"probe: {PROBE_EVENTS:,} events in {elapsed:.1f} s, {rate:,.0f} events/s", flush=True)
    if EVENTS / rate <= STREAM_BUDGET_S:
        return EVENTS
    fitting = max(PROBE_EVENTS, int(rate * STREAM_BUDGET_S) // 50_000 * 50_000)
    print(
        f"NOTE: {EVENTS:,} events would take ~{EVENTS / rate / 60:.0f} min at that rate, over "
        f"the {STREAM_BUDGET_S / 60:.0f} min budget: the stream is shortened to {fitting:,} "
        f"events over the same {DAYS} days (the same important and pinned events)",
        flush=True,
    )
    return fitting


def main() -> None:
    important = corpora.important_events(IMPORTANT + PINNED)
    embedder = cached_embedder("stream")
    texts = corpora.trivial_vocabulary() + [f.text for f in important]
    texts += [f.query for f in important]
    start = time.monotonic()
    embedder.embed(texts)
    embedder.save()
    print(f"embedded {embedder.embedded:,} new texts in {time.monotonic() - start:.0f} s")

    reference = cosine_reference(embedder, important)
    events = events_that_fit(embedder, important)
    clock = [START]
    with tempfile.TemporaryDirectory(dir=CACHE_ROOT, prefix="scratch-") as scratch:
        state = Path(scratch) / "state"
        store = open_store(state, embedder, clock)
        result = feed(store, stream(events, important, PINNED), clock)
        stats = store.stats(UID)
        store.close()
        stored = directory_bytes(state)
        start = time.monotonic()
        by_query = recalled_in_isolation(state, embedder, clock, result, by_query=True)
        by_text = recalled_in_isolation(state, embedder, clock, result, by_query=False)
        print(f"probes, each on a fresh copy: {time.monotonic() - start:.0f} s", flush=True)
        store = open_store(state, embedder, clock)
        in_a_row = recalled_in_a_row(store, result)
        store.close()
    report(events, result, stats, stored, Recalls(by_query, by_text, in_a_row, reference))


@dataclass(frozen=True)
class Recalls:
    by_query: Recalled
    by_text: Recalled
    in_a_row: Recalled
    reference: float


def report(
    events: int, result: StreamResult, stats: TierStats, stored: int, recalls: Recalls
) -> None:
    counts = ", ".join(f"{tier} {count:,}" for tier, count in stats.counts.items())
    seconds = result.feed_s + result.consolidate_s
    print(
        f"{events:,} events over {DAYS} simulated days into the store: {seconds:.0f} s "
        f"({events / seconds:,.0f} events/s; remember_many {result.feed_s:.0f} s, "
        f"{DAYS} consolidations {result.consolidate_s:.0f} s); merged {result.merged:,}, "
        f"forgot {result.pruned:,}; kept {sum(stats.counts.values()):,} ({counts})"
    )
    print(
        "storing everything = per event: UTF-8 text + 384 float32 (1,536 B) + JSON of "
        "{kind, created_at, metadata}; the store: its files after consolidation and close"
    )
    share = stored / result.naive_bytes
    by_query, by_text, in_a_row = recalls.by_query, recalls.by_text, recalls.in_a_row
    important, pinned = by_query.asked[False], by_query.asked[True]
    goal = f">= {GOAL_RECALLED}"
    rows = [
        ("bytes: storing everything", f"{result.naive_bytes / 2**20:,.1f} MiB", "", ""),
        ("bytes: the store on disk", f"{stored / 2**20:,.1f} MiB", "", ""),
        ("  share", f"{share:.2%}", f"<= {GOAL_BYTES:.0%}", verdict(share <= GOAL_BYTES)),
        (
            f"important recalled@{LIMIT}, paraphrase ({important:,} sampled)",
            f"{by_query.rate(False):.3f}",
            goal,
            verdict(by_query.rate(False) >= GOAL_RECALLED),
        ),
        (
            f"pinned recalled@{LIMIT}, paraphrase ({pinned:,})",
            f"{by_query.rate(True):.3f}",
            goal,
            verdict(by_query.rate(True) >= GOAL_RECALLED),
        ),
        (
            "  reference: plain cosine, every distinct text once",
            f"{recalls.reference:.3f}",
            "",
            "",
        ),
        (f"important recalled@{LIMIT}, own text", f"{by_text.rate(False):.3f}", "", ""),
        (f"pinned recalled@{LIMIT}, own text", f"{by_text.rate(True):.3f}", "", ""),
        (
            f"important recalled@{LIMIT}, paraphrase, asked in a row",
            f"{in_a_row.rate(False):.3f}",
            "",
            "",
        ),
        (
            f"pinned recalled@{LIMIT}, paraphrase, asked in a row",
            f"{in_a_row.rate(True):.3f}",
            "",
            "",
        ),
        (
            "probed events merged into a near-duplicate",
            f"{by_query.merged_away:,} of {important + pinned:,}",
            "",
            "",
        ),
    ]
    print_table(
        "Each probe recalls on its own copy of the consolidated store; 'in a row': all "
        f"{len(result.ids):,} on one store, each recall promoting what it returned",
        ("", "measured", "goal", "verdict"),
        rows,
    )


if __name__ == "__main__":
    main()
