"""The memory store's behaviour: remember, recall, get, pin, supersede, forget, stats."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from noos.protocol.errors import InvalidArgument, NotFound
from noosd.memory.core.filters import RecallFilter
from noosd.memory.core.model import Tier, TierStats
from noosd.memory.store import MemoryStore, NewMemory
from tests.unit.memory.conftest import DAY, Clock

USER = 1000

FACTS = [
    ("the backup disk is the blue one in the office drawer", "note"),
    ("git push failed because the remote rejected the branch", "command"),
    ("I prefer dark themes in every application", "note"),
    ("the dentist appointment is on the 14th at 9am", "note"),
    ("systemctl restart nginx", "command"),
]


def remember_all(store: MemoryStore, clock: Clock) -> dict[str, str]:
    """Remember FACTS a minute apart; their ids by text."""
    ids = {}
    for text, kind in FACTS:
        ids[text] = store.remember(USER, text, kind, {}).id
        clock.advance(60)
    return ids


def test_a_remembered_memory_comes_back_whole(store: MemoryStore, clock: Clock) -> None:
    memory = store.remember(USER, "the wifi password is on the router", "note", {"room": "hall"})

    assert memory.uid == USER and len(memory.id) == 16
    assert (memory.text, memory.kind, memory.metadata) == (
        "the wifi password is on the router",
        "note",
        {"room": "hall"},
    )
    assert memory.created_at == memory.last_accessed == clock.now
    assert (memory.tier, memory.pinned, memory.access_count) == (Tier.HOT, False, 0)
    assert memory.importance == pytest.approx(0.5)  # a note's default
    assert (memory.superseded_at, memory.superseded_by, memory.provenance) == (None, None, ())

    clock.advance(3600)
    got = store.get(USER, memory.id)
    assert got.text == memory.text and got.metadata == {"room": "hall"}
    # Reading is an access.
    assert (got.last_accessed, got.access_count) == (clock.now, 1)
    assert got.importance > memory.importance


def test_an_importance_hint_replaces_the_kinds_default(store: MemoryStore) -> None:
    assert store.remember(USER, "rm -rf build", "command", {}).importance == pytest.approx(0.1)
    assert store.remember(USER, "rm -rf /", "command", {}, importance=0.9).importance == 0.9


def test_recall_ranks_the_relevant_memory_first_and_shows_its_score(
    store: MemoryStore, clock: Clock
) -> None:
    ids = remember_all(store, clock)

    hits = store.recall(USER, "where is my backup drive?", 3)

    assert hits[0].memory.id == ids[FACTS[0][0]]
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    weights = store.config.weights
    for hit in hits:
        assert hit.score == pytest.approx(
            weights.relevance * hit.relevance
            + weights.recency * hit.recency
            + weights.importance * hit.importance
        )
        # Relevance: the cosine, plus up to 1 for the words (see fusion).
        assert -1 <= hit.relevance <= 2 and 0 < hit.recency <= 1 and 0 <= hit.importance <= 1
    assert hits[0].relevance > 0.5 > hits[-1].relevance


def test_between_equally_relevant_memories_the_newer_wins(store: MemoryStore, clock: Clock) -> None:
    older = store.remember(USER, "the cat needs feeding at six", "note", {})
    clock.advance(5 * DAY)
    newer = store.remember(USER, "the cat needs feeding at six", "note", {})

    hits = store.recall(USER, "when does the cat eat?", 2)

    assert [hit.memory.id for hit in hits] == [newer.id, older.id]
    assert hits[0].relevance == pytest.approx(hits[1].relevance, abs=1e-3)
    assert hits[0].recency > hits[1].recency


def test_between_equally_relevant_memories_the_more_important_wins(store: MemoryStore) -> None:
    minor = store.remember(USER, "the dog needs a walk at seven", "note", {}, importance=0.1)
    major = store.remember(USER, "the dog needs a walk at seven", "note", {}, importance=0.9)

    hits = store.recall(USER, "when should the dog go out?", 2)

    assert [hit.memory.id for hit in hits] == [major.id, minor.id]


def test_recall_refreshes_what_it_returns(store: MemoryStore, clock: Clock) -> None:
    memory = store.remember(USER, "the car is due for an MOT in March", "note", {})
    clock.advance(7 * DAY)

    (hit,) = store.recall(USER, "when is the car inspection?", 1)

    # Scored as it was: a week idle...
    assert hit.recency == pytest.approx(0.5)
    # ...and returned as it is now, accessed.
    assert (hit.memory.last_accessed, hit.memory.access_count) == (clock.now, 1)
    assert store.get(USER, memory.id).access_count == 2


def test_a_recall_never_returns_more_than_its_limit_or_than_there_is(
    store: MemoryStore, clock: Clock
) -> None:
    remember_all(store, clock)

    assert len(store.recall(USER, "anything", 2)) == 2
    assert len(store.recall(USER, "anything", 1000)) == len(FACTS)
    assert store.recall(USER + 1, "anything", 10) == []


def test_pinning_gives_maximum_importance_until_unpinned(store: MemoryStore) -> None:
    memory = store.remember(USER, "ls -la", "command", {})

    pinned = store.pin(USER, memory.id, True)
    assert pinned.pinned and pinned.importance == 1.0

    unpinned = store.pin(USER, memory.id, False)
    assert not unpinned.pinned and unpinned.importance == pytest.approx(0.1)


def test_a_new_fact_about_a_subject_supersedes_the_old_one(
    store: MemoryStore, clock: Clock
) -> None:
    old = store.remember(USER, "my favourite editor is vim", "fact", {"fact": "editor"})
    other = store.remember(USER, "my shell is zsh", "fact", {"fact": "shell"})
    clock.advance(DAY)
    new = store.remember(USER, "my favourite editor is now emacs", "fact", {"fact": "editor"})

    kept = store.get(USER, old.id)
    assert (kept.superseded_at, kept.superseded_by) == (new.created_at, new.id)
    assert store.get(USER, other.id).superseded_at is None
    recalled = {hit.memory.id for hit in store.recall(USER, "which editor do I use?", 10)}
    assert new.id in recalled and old.id not in recalled
    everything = RecallFilter(include_superseded=True)
    recalled = {hit.memory.id for hit in store.recall(USER, "which editor?", 10, everything)}
    assert {new.id, old.id} <= recalled


def test_a_memory_can_name_the_one_it_supersedes(store: MemoryStore, clock: Clock) -> None:
    old = store.remember(USER, "the meeting is on Monday", "note", {})
    clock.advance(60)
    new = store.remember(USER, "the meeting moved to Tuesday", "note", {}, supersedes=old.id)

    kept = store.get(USER, old.id)
    assert (kept.superseded_at, kept.superseded_by) == (clock.now, new.id)
    with pytest.raises(InvalidArgument, match="already superseded"):
        store.remember(USER, "the meeting is on Wednesday", "note", {}, supersedes=old.id)
    with pytest.raises(NotFound):
        store.remember(USER, "no such memory", "note", {}, supersedes="0" * 16)


def test_filters_select_by_kind_time_and_metadata(store: MemoryStore, clock: Clock) -> None:
    first = store.remember(USER, "make -j2 in the kernel tree", "command", {"cwd": "/src", "n": 1})
    clock.advance(DAY)
    second = store.remember(USER, "make test in the noos tree", "command", {"cwd": "/noos"})
    note = store.remember(USER, "the build takes ten minutes", "note", {"n": True})

    def recalled(filters: RecallFilter) -> set[str]:
        return {hit.memory.id for hit in store.recall(USER, "building", 10, filters)}

    assert recalled(RecallFilter(kinds=frozenset({"command"}))) == {first.id, second.id}
    assert recalled(RecallFilter(since=clock.now)) == {second.id, note.id}
    assert recalled(RecallFilter(until=clock.now - 1)) == {first.id}
    assert recalled(RecallFilter(metadata={"cwd": "/noos"})) == {second.id}
    # Values match in type too: 1 is not True.
    assert recalled(RecallFilter(metadata={"n": 1})) == {first.id}
    assert recalled(RecallFilter(metadata={"n": True})) == {note.id}
    assert recalled(RecallFilter(metadata={"cwd": "/src", "n": 1})) == {first.id}
    assert recalled(RecallFilter(metadata={"cwd": "/nowhere"})) == set()


def test_a_selective_filter_finds_matches_beyond_the_nearest_candidates(
    store: MemoryStore,
) -> None:
    # A limit of 1 takes the 20 nearest of each tier; the note is not among them.
    store.remember_many(
        USER, [NewMemory(f"backup job {i} finished copying the disk", "command") for i in range(30)]
    )
    note = store.remember(USER, "pick up the dry cleaning", "note", {})

    hits = store.recall(USER, "disk backup", 1, RecallFilter(kinds=frozenset({"note"})))

    assert [hit.memory.id for hit in hits] == [note.id]


def test_forget_deletes_exactly_the_named_memories(store: MemoryStore, clock: Clock) -> None:
    ids = remember_all(store, clock)
    doomed = [ids[FACTS[0][0]], ids[FACTS[1][0]]]

    assert store.forget(USER, [*doomed, doomed[0]]) == 2

    for memory_id in doomed:
        with pytest.raises(NotFound):
            store.get(USER, memory_id)
    remaining = {hit.memory.id for hit in store.recall(USER, "backup disk", 10)}
    assert remaining == set(ids.values()) - set(doomed)
    assert store.forget(USER, []) == 0


def test_forget_with_an_unknown_id_deletes_nothing(store: MemoryStore) -> None:
    memory = store.remember(USER, "keep me", "note", {})

    with pytest.raises(NotFound, match="f" * 16):
        store.forget(USER, [memory.id, "f" * 16])

    assert store.get(USER, memory.id).text == "keep me"


def test_forget_where_deletes_what_the_filter_matches(store: MemoryStore, clock: Clock) -> None:
    remember_all(store, clock)

    assert store.forget_where(USER, RecallFilter(kinds=frozenset({"command"}))) == 2

    kinds = {hit.memory.kind for hit in store.recall(USER, "anything", 10)}
    assert kinds == {"note"}
    assert store.stats(USER).counts[Tier.HOT] == 3


def test_remember_many_remembers_in_one_batch(store: MemoryStore, clock: Clock) -> None:
    memories = store.remember_many(
        USER,
        [
            NewMemory("cd /tmp", "command"),
            NewMemory("the printer is out of toner", "note", {"room": "office"}, importance=0.8),
        ],
    )

    assert [m.text for m in memories] == ["cd /tmp", "the printer is out of toner"]
    assert memories[1].importance == 0.8 and memories[1].metadata == {"room": "office"}
    assert memories[0].id < memories[1].id
    assert store.remember_many(USER, []) == []


def test_stats_count_per_tier_and_the_bytes_on_disk(store: MemoryStore, clock: Clock) -> None:
    assert store.stats(USER) == TierStats({Tier.HOT: 0, Tier.WARM: 0, Tier.COLD: 0}, 0)
    remember_all(store, clock)

    stats = store.stats(USER)

    assert stats.counts == {Tier.HOT: len(FACTS), Tier.WARM: 0, Tier.COLD: 0}
    assert stats.bytes_used > 0
    # The facade may ask from its event loop's thread.
    seen: list[TierStats] = []
    thread = threading.Thread(target=lambda: seen.append(store.stats(USER)))
    thread.start()
    thread.join()
    assert seen == [stats]


def test_stats_of_a_store_not_yet_opened_for_the_user_are_read_from_disk(
    make_store: Callable[..., MemoryStore], clock: Clock
) -> None:
    first = make_store()
    remember_all(first, clock)
    first.close()

    assert make_store().stats(USER).counts[Tier.HOT] == len(FACTS)


def test_a_recall_with_neighbours_brings_what_was_said_beside_each_hit(
    store: MemoryStore, clock: Clock
) -> None:
    """A conversation's turns: the answer ("Saturday") is in the turn after the
    one the query finds, which names the subject."""
    earlier = store.remember(USER, "Melanie: I signed up for the pottery class", "conversation", {})
    clock.advance(DAY)
    asked = store.remember(USER, "Caroline: when is your pottery exhibition?", "conversation", {})
    clock.advance(30)
    answer = store.remember(USER, "Melanie: on Saturday, at the town hall", "conversation", {})
    clock.advance(3600)
    later = store.remember(USER, "Caroline: I need new running shoes", "conversation", {})

    plain = store.recall(USER, "pottery exhibition", 1)
    hits = store.recall(USER, "pottery exhibition", 1, neighbours=True)

    assert [hit.memory.id for hit in plain] == [asked.id]
    assert [(hit.memory.id, hit.neighbour_of) for hit in hits] == [
        (asked.id, None),
        (answer.id, asked.id),  # 30 s after; `earlier` a day before and `later` an hour after
    ]
    assert {earlier.id, later.id}.isdisjoint(hit.memory.id for hit in hits)
    assert hits[1].memory.access_count == 1  # returned, so accessed


def test_neighbours_already_among_the_hits_come_once_and_obey_the_filter(
    store: MemoryStore, clock: Clock
) -> None:
    first = store.remember(USER, "the pottery kiln reaches 1200 degrees", "note", {})
    clock.advance(30)
    second = store.remember(USER, "the pottery glaze needs two coats", "note", {})
    clock.advance(30)
    store.remember(USER, "git commit -m pottery", "command", {})

    hits = store.recall(
        USER, "pottery", 2, RecallFilter(kinds=frozenset({"note"})), neighbours=True
    )

    assert sorted(hit.memory.id for hit in hits) == sorted([first.id, second.id])
    assert all(hit.neighbour_of is None for hit in hits)


def test_neighbours_must_be_a_boolean(store: MemoryStore) -> None:
    store.remember(USER, "the pottery kiln reaches 1200 degrees", "note", {})

    with pytest.raises(InvalidArgument, match="neighbours"):
        store.recall(USER, "pottery", 1, neighbours="yes")  # type: ignore[arg-type]
