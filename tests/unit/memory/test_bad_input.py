"""Bad input through the store's own methods: InvalidArgument or NotFound, and
nothing changed."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from noos.protocol.errors import InvalidArgument, NotFound
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.model import Tier
from noosd.memory.store import MemoryStore, NewMemory

USER = 1000


@pytest.fixture
def store_with_one(store: MemoryStore) -> tuple[MemoryStore, str]:
    return store, store.remember(USER, "the only memory", "note", {}).id


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.remember(USER, "", "note", {}), "empty"),
        (lambda s: s.remember(USER, " \n ", "note", {}), "empty"),
        (lambda s: s.remember(USER, "x" * 1_000_000, "note", {}), "1000000 bytes"),
        (lambda s: s.remember(USER, "hi", "gossip", {}), "unknown kind"),
        (lambda s: s.remember(USER, "hi", "note", {"tags": ["a"]}), "str, int, float or bool"),
        (lambda s: s.remember(USER, "hi", "note", {"not a key": 1}), "identifier"),
        (lambda s: s.remember(USER, "hi", "note", {}, importance=1.5), "importance"),
        (lambda s: s.remember(USER, "hi", "note", {}, importance=math.nan), "importance"),
        (lambda s: s.remember(-1, "hi", "note", {}), "uid"),
        (
            lambda s: s.remember_many(USER, [NewMemory("ok", "note"), NewMemory("", "note")]),
            "empty",
        ),
        (lambda s: s.recall(USER, "", 10), "query"),
        (lambda s: s.recall(USER, "q", 0), "limit"),
        (lambda s: s.recall(USER, "q", 1001), "limit"),
        (lambda s: s.recall(USER, "q", 10, {"kinds": ["note"]}), "RecallFilter"),
        (lambda s: s.pin(USER, "0" * 16, "yes"), "boolean"),
        (lambda s: s.forget(USER, "0123456789abcdef"), "list"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    store_with_one: tuple[MemoryStore, str],
    call: Callable[[MemoryStore], object],
    message: str,
) -> None:
    store, _ = store_with_one

    with pytest.raises(InvalidArgument, match=message):
        call(store)

    assert store.stats(USER).counts == {Tier.HOT: 1, Tier.WARM: 0, Tier.COLD: 0}


def test_a_text_at_the_limit_is_remembered(make_store: Callable[..., MemoryStore]) -> None:
    store = make_store(max_text_bytes=100)

    assert store.remember(USER, "é" * 50, "note", {}).text == "é" * 50
    with pytest.raises(InvalidArgument, match="101 bytes"):
        store.remember(USER, "é" * 50 + "!", "note", {})


def test_bad_filters_are_refused_before_recalling() -> None:
    with pytest.raises(InvalidArgument, match="after"):
        RecallFilter(since=2.0, until=1.0)
    with pytest.raises(InvalidArgument, match="unknown kind"):
        RecallFilter(kinds=frozenset({"gossip"}))
    with pytest.raises(InvalidArgument, match="str, int, float or bool"):
        RecallFilter.from_options({"metadata": {"cwd": None}})


@pytest.mark.parametrize("memory_id", ["0" * 16, "not an id", "", "F" * 16])
def test_unknown_ids_are_not_found(store_with_one: tuple[MemoryStore, str], memory_id: str) -> None:
    store, known = store_with_one

    with pytest.raises(NotFound):
        store.get(USER, memory_id)
    with pytest.raises(NotFound):
        store.pin(USER, memory_id, True)
    with pytest.raises(NotFound):
        store.forget(USER, [known, memory_id])

    assert store.get(USER, known).text == "the only memory"
