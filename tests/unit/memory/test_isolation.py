"""Per-user isolation: one user's calls never see, count, change or delete another's."""

from __future__ import annotations

import pytest

from noos.protocol.errors import NotFound
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.model import Tier
from noosd.memory.store import MemoryStore

ALICE, BOB = 1000, 1001


@pytest.fixture
def alices(store: MemoryStore) -> str:
    store.remember(ALICE, "alice's bank PIN is 1234", "note", {"secret": True})
    return store.remember(ALICE, "alice's diary: a quiet day", "note", {}).id


def test_a_recall_sees_only_the_callers_memories(store: MemoryStore, alices: str) -> None:
    bobs = store.remember(BOB, "bob's bank PIN is 9999", "note", {"secret": True})

    hits = store.recall(BOB, "bank PIN", 10, RecallFilter(metadata={"secret": True}))

    assert [hit.memory.id for hit in hits] == [bobs.id]
    assert all(hit.memory.uid == BOB for hit in hits)


def test_a_user_without_memories_recalls_nothing(store: MemoryStore, alices: str) -> None:
    assert store.recall(BOB, "bank PIN", 10) == []


def test_another_users_memory_is_not_found_by_get_pin_or_forget(
    store: MemoryStore, alices: str
) -> None:
    store.remember(BOB, "bob has memories too", "note", {})

    with pytest.raises(NotFound):
        store.get(BOB, alices)
    with pytest.raises(NotFound):
        store.pin(BOB, alices, True)
    with pytest.raises(NotFound):
        store.forget(BOB, [alices])
    with pytest.raises(NotFound):
        store.remember(BOB, "overrule alice", "note", {}, supersedes=alices)

    untouched = store.get(ALICE, alices)
    assert not untouched.pinned and untouched.superseded_by is None


def test_forget_where_deletes_only_the_callers_memories(store: MemoryStore, alices: str) -> None:
    store.remember(BOB, "bob's note", "note", {})

    assert store.forget_where(BOB, RecallFilter(kinds=frozenset({"note"}))) == 1

    assert store.stats(ALICE).counts[Tier.HOT] == 2


def test_stats_count_only_the_callers_memories(store: MemoryStore, alices: str) -> None:
    assert store.stats(BOB).counts == {Tier.HOT: 0, Tier.WARM: 0, Tier.COLD: 0}
    assert store.stats(BOB).bytes_used == 0
    store.remember(BOB, "bob's first memory", "note", {})

    assert store.stats(BOB).counts[Tier.HOT] == 1
    assert store.stats(ALICE).counts[Tier.HOT] == 2
    assert store.stats(BOB).bytes_used > 0


def test_a_fact_supersedes_only_the_same_users_fact(store: MemoryStore) -> None:
    alices = store.remember(ALICE, "my car is red", "fact", {"fact": "car"})

    store.remember(BOB, "my car is blue", "fact", {"fact": "car"})

    assert store.get(ALICE, alices.id).superseded_at is None


def test_near_duplicates_of_different_users_are_not_merged(store: MemoryStore) -> None:
    alices = store.remember(ALICE, "water the plants", "note", {})
    bobs = store.remember(BOB, "water the plants", "note", {})

    report = store.consolidate()

    assert report.users == 2 and report.merged == 0
    assert store.get(ALICE, alices.id).provenance == ()
    assert store.get(BOB, bobs.id).provenance == ()
