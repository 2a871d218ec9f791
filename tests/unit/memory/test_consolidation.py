"""Consolidation: near-duplicates merged with provenance, trivial old memories
pruned, pinned and identity kept, superseded facts kept, space reclaimed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from noos.protocol.errors import NotFound
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.model import Tier
from noosd.memory.store import MemoryStore, NewMemory
from tests.unit.memory.conftest import DAY, Clock, chromadb_ids

USER = 1000


def test_near_duplicates_merge_into_the_oldest_keeping_their_provenance(
    store: MemoryStore, clock: Clock
) -> None:
    first = store.remember(USER, "docker compose up -d", "command", {"cwd": "/srv"})
    clock.advance(3600)
    second = store.remember(USER, "docker compose up -d", "command", {})
    clock.advance(3600)
    third = store.remember(USER, "docker compose up -d ", "command", {})
    other = store.remember(USER, "docker compose down", "command", {})

    report = store.consolidate()

    assert report.merged == 2
    survivor = store.get(USER, first.id)
    assert survivor.provenance == (second.id, third.id)
    assert survivor.repetitions == 2
    assert survivor.provenance_created_at == (second.created_at, third.created_at)
    assert survivor.metadata == {"cwd": "/srv"}
    # Repetition raised its importance above a lone command's.
    assert survivor.importance > store.get(USER, other.id).importance > 0
    for merged in (second, third):
        with pytest.raises(NotFound):
            store.get(USER, merged.id)
    assert sum(store.stats(USER).counts.values()) == 2


def test_a_memory_repeated_many_times_keeps_the_latest_hundred_in_its_provenance(
    store: MemoryStore,
) -> None:
    repeats = store.remember_many(USER, [NewMemory("git status", "command")] * 150)

    assert store.consolidate().merged == 149

    survivor = store.get(USER, repeats[0].id)
    assert survivor.repetitions == 149
    assert survivor.provenance == tuple(memory.id for memory in repeats[-100:])
    # Repetition alone closes at most half the gap to 1 (repetition_cap); the
    # get was one access, which closes a twentieth of the rest.
    assert survivor.importance == pytest.approx(1 - 0.9 * 0.5 * 0.95)


def test_alike_memories_that_name_different_particulars_are_not_merged(
    store: MemoryStore,
) -> None:
    pairs = [
        (
            "Ann Smith's phone number is +44 7123 456789",
            "Ann Smith's phone number is +44 7123 456780",
        ),
        (
            "the atlas-12 server is atlas3.internal, port 8080",
            "the atlas-12 server is atlas3.internal, port 8081",
        ),
    ]
    for first, second in pairs:
        a = store.remember(USER, first, "fact", {})
        b = store.remember(USER, second, "fact", {})
        vectors = store.embedder.embed([first, second])
        similarity = float(vectors[0] @ vectors[1])
        # Close enough to merge by their vectors alone: only the particulars tell them apart.
        assert similarity >= store.config.duplicate_similarity, (first, similarity)

    assert store.consolidate().merged == 0
    assert store.get(USER, a.id).text != store.get(USER, b.id).text


def test_notes_merge_only_when_they_say_the_same_words(store: MemoryStore) -> None:
    fixed = store.remember(USER, "willow build broke: the backup script fixed", "note", {})
    broke = store.remember(USER, "willow build broke: the backup script broke", "note", {})
    again = store.remember(USER, "Willow build broke:  the backup script fixed!", "note", {})
    vectors = store.embedder.embed([fixed.text, broke.text])
    # Their vectors are all but equal: only the words tell them apart, while
    # punctuation moves the vector of the repetition much more.
    assert float(vectors[0] @ vectors[1]) >= store.config.duplicate_similarity

    assert store.consolidate().merged == 1

    assert store.get(USER, fixed.id).provenance == (again.id,)
    assert store.get(USER, broke.id).repetitions == 0


def test_duplicates_of_different_kinds_are_not_merged(store: MemoryStore) -> None:
    store.remember(USER, "back up the photos", "note", {})
    store.remember(USER, "back up the photos", "command", {})

    assert store.consolidate().merged == 0


def test_a_repetition_of_an_old_memory_in_any_tier_merges_into_it(
    make_store: Callable[..., MemoryStore], clock: Clock, state_dir: Path
) -> None:
    store = make_store(hot_capacity=2)
    original = store.remember(USER, "renew the passport before the trip", "note", {})
    for text in ("buy stamps", "water the garden", "call the plumber"):
        store.remember(USER, text, "note", {})
    store.consolidate()
    assert original.id in chromadb_ids(state_dir, USER)
    clock.advance(DAY)
    exact = store.remember(USER, "renew the passport before the trip", "note", {})
    near = store.remember(USER, "Renew the passport before the trip!", "note", {})

    assert store.consolidate().merged == 2

    survivor = store.get(USER, original.id)
    assert survivor.provenance == (exact.id, near.id)


def test_merging_keeps_a_pin_and_the_accesses(store: MemoryStore, clock: Clock) -> None:
    first = store.remember(USER, "the alarm code is 4321", "note", {})
    second = store.remember(USER, "the alarm code is 4321", "note", {})
    store.pin(USER, second.id, True)
    store.get(USER, second.id)

    store.consolidate()

    survivor = store.get(USER, first.id)
    assert survivor.pinned and survivor.importance == 1.0
    assert survivor.access_count == 2


def test_trivial_old_memories_are_pruned_and_their_bytes_reclaimed(
    make_store: Callable[..., MemoryStore], clock: Clock
) -> None:
    # The model finds these near-duplicates: keep them apart, to count them.
    store = make_store(duplicate_similarity=0.9999)
    trivial = store.remember_many(
        USER,
        [NewMemory(f"opened file report-{i}.txt in the editor", "file-event") for i in range(40)],
    )
    store.consolidate()
    full = store.stats(USER).bytes_used
    # A file event (0.05) goes below the threshold after about 19 idle days.
    clock.advance(20 * DAY)

    report = store.consolidate()

    assert report.pruned == len(trivial)
    assert (
        report.bytes_reclaimed > 0 and store.stats(USER).bytes_used == full - report.bytes_reclaimed
    )
    assert store.stats(USER).counts == {Tier.HOT: 0, Tier.WARM: 0, Tier.COLD: 0}
    with pytest.raises(NotFound):
        store.get(USER, trivial[0].id)
    assert store.recall(USER, "opened file report", 10) == []


def test_a_trivial_memory_still_in_use_is_not_pruned(store: MemoryStore, clock: Clock) -> None:
    used = store.remember(USER, "tail -f /var/log/syslog", "command", {})
    unused = store.remember(USER, "df -h", "command", {})
    for _ in range(4):
        clock.advance(10 * DAY)
        store.get(USER, used.id)

    assert store.consolidate().pruned == 1

    assert store.get(USER, used.id).access_count == 5
    with pytest.raises(NotFound):
        store.get(USER, unused.id)


def test_pinned_and_identity_memories_are_never_pruned(store: MemoryStore, clock: Clock) -> None:
    pinned = store.remember(USER, "cd ~/projects/noos", "command", {}, importance=0.0)
    store.pin(USER, pinned.id, True)
    identity = store.remember(USER, "my name is Ada", "identity", {}, importance=0.0)
    doomed = store.remember(USER, "cd ~", "command", {}, importance=0.0)
    clock.advance(10 * 365 * DAY)

    assert store.consolidate().pruned == 1

    assert store.get(USER, pinned.id).pinned
    assert store.get(USER, identity.id).text == "my name is Ada"
    with pytest.raises(NotFound):
        store.get(USER, doomed.id)


def test_a_superseded_fact_is_kept_and_marked_but_not_recalled(
    store: MemoryStore, clock: Clock
) -> None:
    old = store.remember(USER, "I live in Leeds", "fact", {"fact": "home"})
    clock.advance(DAY)
    new = store.remember(USER, "I live in Bristol", "fact", {"fact": "home"})
    clock.advance(60 * DAY)

    store.consolidate()

    kept = store.get(USER, old.id)
    assert (kept.superseded_at, kept.superseded_by) == (new.created_at, new.id)
    assert [hit.memory.id for hit in store.recall(USER, "where do I live?", 5)] == [new.id]
    history = store.recall(USER, "where do I live?", 5, RecallFilter(include_superseded=True))
    assert {hit.memory.id for hit in history} == {old.id, new.id}


def test_a_superseded_memory_is_not_merged_into_its_successor(
    store: MemoryStore, clock: Clock
) -> None:
    old = store.remember(USER, "the wifi password is apple", "fact", {"fact": "wifi"})
    new = store.remember(USER, "the wifi password is apple", "fact", {"fact": "wifi"})

    assert store.consolidate().merged == 0
    assert store.get(USER, old.id).superseded_by == new.id


def test_what_a_merged_memory_superseded_is_superseded_by_the_survivor(
    store: MemoryStore, clock: Clock
) -> None:
    first = store.remember(USER, "the meeting room is B12", "note", {})
    outdated = store.remember(USER, "the meeting room was A3", "note", {})
    repeat = store.remember(USER, "the meeting room is B12", "note", {}, supersedes=outdated.id)

    store.consolidate()

    assert store.get(USER, outdated.id).superseded_by == first.id
    assert store.get(USER, first.id).provenance == (repeat.id,)


def test_consolidation_compares_each_memory_once(store: MemoryStore) -> None:
    store.remember(USER, "make clean", "command", {})
    assert store.consolidate().merged == 0
    store.remember(USER, "make clean", "command", {})

    assert store.consolidate().merged == 1
    assert store.consolidate().merged == 0


def test_repetitions_are_merged_before_they_would_reach_chromadb(
    make_store: Callable[..., MemoryStore], state_dir: Path
) -> None:
    store = make_store(hot_capacity=2, max_unwritten_warm=3)
    first = store.remember(USER, "git pull", "command", {})
    for _ in range(9):
        store.remember(USER, "git pull", "command", {})

    # The write-behind buffer overflowed: the repetitions were merged, not written.
    assert sum(store.stats(USER).counts.values()) < 10
    assert chromadb_ids(state_dir, USER) <= {first.id}
    report = store.consolidate()

    assert report.merged == 9
    assert store.get(USER, first.id).repetitions == 9
