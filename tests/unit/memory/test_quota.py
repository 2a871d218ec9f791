"""Per-user quotas: one user filling their share is refused clearly, and no
other user is affected."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from noos.protocol.errors import QuotaExceeded
from noosd.memory.store import MemoryStore, NewMemory

ALICE, BOB = 1000, 1001
TOPICS = ("the garden", "the boat", "the violin", "the attic", "the bakery")


def test_a_user_at_their_memory_count_is_refused_and_another_is_not(
    make_store: Callable[..., MemoryStore],
) -> None:
    store = make_store(max_memories_per_user=3)
    first, *_ = [store.remember(ALICE, f"a note about {topic}", "note", {}) for topic in TOPICS[:3]]

    with pytest.raises(QuotaExceeded, match="you keep 3 memories and 1 more would be over the 3"):
        store.remember(ALICE, "a note about the bakery", "note", {})
    with pytest.raises(QuotaExceeded):
        store.remember_many(BOB, [NewMemory(f"bob on {topic}", "note") for topic in TOPICS[:4]])

    assert store.remember(BOB, "bob's own note", "note", {}).uid == BOB
    store.forget(ALICE, [first.id])
    assert store.remember(ALICE, "a note about the bakery", "note", {}).uid == ALICE


def test_a_user_at_their_bytes_is_refused_and_another_is_not(
    make_store: Callable[..., MemoryStore],
) -> None:
    store = make_store(max_bytes_per_user=100)
    store.remember(ALICE, "x" * 60, "note", {})

    with pytest.raises(QuotaExceeded, match="bytes"):
        store.remember(ALICE, "y" * 60, "note", {})
    with pytest.raises(QuotaExceeded, match="bytes"):
        store.remember(ALICE, "short", "note", {"padding": "z" * 80})

    assert store.remember(BOB, "y" * 60, "note", {}).uid == BOB
    assert store.stats(ALICE).counts == store.stats(BOB).counts
