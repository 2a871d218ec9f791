"""The tiers with small capacities (hot 3, warm 5): placement, promotion, demotion,
and recalls that merge all three into one ranking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from noosd.memory.core.model import Tier
from noosd.memory.store import MemoryStore
from tests.unit.memory.conftest import (
    DAY,
    Clock,
    chromadb_ids,
    stored_memory,
    stored_tier,
    warm_ids,
)

USER = 1000
TOPICS = [
    "the boiler was serviced in October",
    "python3 -m venv .venv",
    "the library books are due back on Friday",
    "ssh into the build server as admin",
    "the bicycle tyre has a slow puncture",
    "rsync the photos to the NAS every Sunday",
    "grandma's birthday is on the 3rd of May",
    "the router reboots itself every night at 3am",
    "tax return deadline is the end of January",
    "the houseplants need water twice a week",
    "docker compose up -d in the media folder",
    "the spare key is under the blue flower pot",
]


@pytest.fixture
def small(make_store: Callable[..., MemoryStore]) -> MemoryStore:
    return make_store(hot_capacity=3, warm_capacity=5)


def remember_topics(store: MemoryStore, clock: Clock, count: int) -> list[str]:
    ids = []
    for text in TOPICS[:count]:
        ids.append(store.remember(USER, text, "note", {}).id)
        clock.advance(60)
    return ids


def test_new_memories_are_hot_until_the_hot_tier_overflows(
    small: MemoryStore, clock: Clock
) -> None:
    remember_topics(small, clock, 3)
    assert small.stats(USER).counts == {Tier.HOT: 3, Tier.WARM: 0, Tier.COLD: 0}

    small.remember(USER, TOPICS[3], "note", {})

    # Over capacity, hot keeps its capacity minus a margin (one): the newest.
    assert small.stats(USER).counts == {Tier.HOT: 2, Tier.WARM: 2, Tier.COLD: 0}


def test_the_warm_tier_overflows_into_the_cold_one(
    small: MemoryStore, clock: Clock, state_dir: Path
) -> None:
    ids = remember_topics(small, clock, 12)

    counts = small.stats(USER).counts
    assert counts[Tier.HOT] <= 3 and counts[Tier.WARM] <= 5
    assert sum(counts.values()) == 12 and counts[Tier.COLD] >= 4
    # All equally important: the oldest went furthest down, the newest stayed.
    assert stored_tier(state_dir, USER, ids[0]) is Tier.COLD
    assert stored_tier(state_dir, USER, ids[-1]) is Tier.HOT


def test_a_cold_memory_is_still_recalled_and_promoted_to_hot(
    small: MemoryStore, clock: Clock, state_dir: Path
) -> None:
    ids = remember_topics(small, clock, 12)
    assert stored_tier(state_dir, USER, ids[0]) is Tier.COLD

    hits = small.recall(USER, "when was the boiler last serviced?", 1)

    assert hits[0].memory.id == ids[0]
    assert hits[0].memory.text == TOPICS[0]
    assert hits[0].memory.tier is Tier.HOT
    # The access reaches the disk in a batch, after the reply.
    assert stored_tier(state_dir, USER, ids[0]) is Tier.COLD
    small.settle()
    assert stored_tier(state_dir, USER, ids[0]) is Tier.HOT
    assert small.stats(USER).counts[Tier.HOT] <= 3


def test_accesses_noted_by_recalls_are_applied_before_they_matter(
    store: MemoryStore, clock: Clock, state_dir: Path
) -> None:
    kept = store.remember(USER, "the spare key is under the blue flowerpot", "note", {})
    other = store.remember(USER, "the garage code is 4711", "note", {})
    clock.advance(DAY)
    store.recall(USER, "where is the spare key?", 1)
    store.recall(USER, "where is the spare key?", 1)

    # A recall ranks with the pending accesses counted; the memory it returns shows them.
    hit = store.recall(USER, "where is the spare key?", 1)[0]
    assert hit.memory.access_count == 3
    # Ranked with the two earlier accesses (a note's base importance is 0.5).
    assert hit.importance == pytest.approx(1 - 0.5 * 0.95**2)
    # Any change applies them (here, forgetting another memory), durably.
    store.forget(USER, [other.id])
    store.close()
    assert stored_memory(state_dir, USER, kept.id).access_count == 3


def test_a_recall_merges_all_three_tiers_into_one_ranking(small: MemoryStore, clock: Clock) -> None:
    remember_topics(small, clock, 12)
    counts = small.stats(USER).counts
    assert all(counts[tier] > 0 for tier in Tier)

    hits = small.recall(USER, "household chores and reminders", 12)

    assert len(hits) == 12
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_a_warm_memory_read_is_promoted_to_hot(
    small: MemoryStore, clock: Clock, state_dir: Path
) -> None:
    ids = remember_topics(small, clock, 6)
    assert stored_tier(state_dir, USER, ids[0]) is Tier.WARM

    assert small.get(USER, ids[0]).tier is Tier.HOT
    assert stored_tier(state_dir, USER, ids[0]) is Tier.HOT
    assert small.stats(USER).counts[Tier.HOT] <= 3


def test_consolidation_demotes_idle_hot_memories_and_faded_warm_ones(
    store: MemoryStore, clock: Clock
) -> None:
    remember_topics(store, clock, 2)
    store.remember(USER, "ls", "command", {})
    store.remember(USER, "the one thing that matters", "note", {}, importance=0.9)
    assert store.stats(USER).counts[Tier.HOT] == 4
    # Ten days: idle for more than a half-life, nothing is hot any more; the
    # command's retention ((0.37 + 0.1) / 2) falls below the cold threshold.
    clock.advance(10 * DAY)

    report = store.consolidate()

    assert report.demoted == 4 and report.pruned == 0
    assert store.stats(USER).counts == {Tier.HOT: 0, Tier.WARM: 3, Tier.COLD: 1}


def test_warm_memories_reach_chromadb_at_consolidation_and_are_recalled_before(
    small: MemoryStore, clock: Clock, state_dir: Path
) -> None:
    ids = remember_topics(small, clock, 7)
    warm = warm_ids(state_dir, USER)
    assert ids[0] in warm and chromadb_ids(state_dir, USER) == set()

    hits = small.recall(USER, "when was the boiler last serviced?", 1)
    assert hits[0].memory.id == ids[0]
    small.consolidate()

    assert chromadb_ids(state_dir, USER) == warm_ids(state_dir, USER) != set()
