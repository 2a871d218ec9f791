"""Saved KV states: paging to disk under a RAM budget, and prefix reuse."""

from __future__ import annotations

from noosd.scheduler.core import (
    Drop,
    PageOut,
    PrefixHit,
    Priority,
    Resume,
    SavedState,
    StateLocation,
)
from noosd.scheduler.core.kvcache import KvCache, PrefixIndex, prefix_blocks
from tests.unit.scheduler.fakes import MB, loaded, model, only, scheduler, submit

BLOCK = 4
OWNER = 1000
PROMPT = list(range(100, 112))  # three blocks of four


def blocks(tokens: list[int]) -> tuple[bytes, ...]:
    return prefix_blocks(tokens, BLOCK)


def test_each_block_digest_names_the_whole_prefix() -> None:
    digests = blocks(PROMPT)

    assert len(digests) == 3
    # A partial block has no digest; a shared prefix shares its digests.
    assert blocks([*PROMPT, 1, 2]) == digests
    assert blocks(PROMPT[:8]) == digests[:2]
    # The same block after a different prefix is a different prefix.
    assert blocks([0, 0, 0, 0, *PROMPT[4:8]])[1] != digests[1]
    assert blocks([]) == ()


def test_the_index_finds_the_longest_held_prefix() -> None:
    index = PrefixIndex()
    index.add("short", OWNER, "m", blocks(PROMPT[:4]))
    index.add("long", OWNER, "m", blocks(PROMPT))
    index.add("other-model", OWNER, "x", blocks(PROMPT))

    assert index.longest(OWNER, "m", blocks([*PROMPT[:8], 7, 7, 7, 7])) == (2, frozenset({"long"}))
    assert index.longest(OWNER, "m", blocks(PROMPT[:4])) == (1, frozenset({"short", "long"}))
    assert index.longest(OWNER, "m", blocks([9, 9, 9, 9])) == (0, frozenset())
    # Another user's prompt finds none of the owner's states.
    assert index.longest(OWNER + 1, "m", blocks(PROMPT)) == (0, frozenset())
    index.remove("long")
    assert index.longest(OWNER, "m", blocks(PROMPT)) == (1, frozenset({"short"}))
    index.remove("short")
    assert index.longest(OWNER, "m", blocks(PROMPT)) == (0, frozenset())


def cache(ram_mb: int = 100, disk_mb: int = 1000) -> KvCache:
    return KvCache(ram_mb * MB, disk_mb * MB, block_tokens=BLOCK)


def test_a_lookup_prefers_the_longest_prefix_then_ram_then_recent() -> None:
    kv = cache(ram_mb=30)
    kv.keep(SavedState("old", "m", 20 * MB, blocks(PROMPT[:8])), OWNER, 0, held=False)
    kv.keep(SavedState("new", "m", 20 * MB, blocks(PROMPT[:8])), OWNER, 5, held=False)
    kv.keep(SavedState("short", "m", 1 * MB, blocks(PROMPT[:4])), OWNER, 6, held=False)
    assert kv.paging(10) == [PageOut("old")]

    # old and new hold the same 8 tokens, but old is on disk now.
    assert kv.lookup(OWNER, "m", blocks(PROMPT), 11) == PrefixHit("new", StateLocation.RAM, 8)
    # All three hold the first block; new was used last (by the lookup above).
    assert kv.lookup(OWNER, "m", blocks([*PROMPT[:4], 0, 0, 0, 0]), 12) == PrefixHit(
        "new", StateLocation.RAM, 4
    )
    assert kv.lookup(OWNER, "x", blocks(PROMPT), 13) is None


def test_nothing_is_paged_out_within_the_ram_budget() -> None:
    kv = cache(ram_mb=100)
    kv.keep(SavedState("a", "m", 60 * MB), OWNER, 0, held=False)
    kv.keep(SavedState("b", "m", 40 * MB), OWNER, 0, held=False)

    assert kv.paging(10_000) == []


def test_the_most_idle_byte_seconds_are_paged_out_first() -> None:
    kv = cache(ram_mb=100)
    # idle 100 s x 10 MB, idle 10 s x 50 MB, idle 50 s x 40 MB (a preempted job's)
    kv.keep(SavedState("small-old", "m", 10 * MB), OWNER, 0, held=False)
    kv.keep(SavedState("big-new", "m", 50 * MB), OWNER, 90, held=False)
    kv.keep(SavedState("held", "m", 40 * MB), OWNER, 50, held=True)
    kv.keep(SavedState("fresh", "m", 30 * MB), OWNER, 100, held=False)

    decisions = kv.paging(100)

    # 130 MB in RAM: the held state (2000 MB·s) goes before the others (1000, 500).
    assert decisions == [PageOut("held")]
    assert kv.location("held") is StateLocation.DISK
    assert (kv.ram_used, kv.disk_used) == (90 * MB, 40 * MB)


def test_over_the_disk_budget_the_least_recent_unheld_states_are_dropped() -> None:
    kv = cache(ram_mb=0, disk_mb=50)
    kv.keep(SavedState("held", "m", 30 * MB), OWNER, 0, held=True)
    kv.keep(SavedState("older", "m", 20 * MB), OWNER, 1, held=False)
    kv.keep(SavedState("newer", "m", 20 * MB), OWNER, 2, held=False)

    decisions = kv.paging(3)

    assert only(decisions, PageOut) == [PageOut("held"), PageOut("older"), PageOut("newer")]
    assert only(decisions, Drop) == [Drop("older")]
    assert kv.location("held") is StateLocation.DISK
    assert kv.lookup(OWNER, "m", blocks(PROMPT), 4) is None


def test_a_finished_conversations_state_is_offered_to_its_next_turn() -> None:
    s = scheduler(model("m"))
    turn, decisions = submit(s, 0, prompt_tokens=12)
    loaded(s, decisions, 1)
    full = prefix_blocks(list(range(300)))
    s.on_finished(turn, 5, kept=SavedState("conv-1", "m", 5 * MB, full[:4]))
    next_turn, decisions = submit(s, 60, prompt_tokens=300)

    hit = s.reusable_state(next_turn, full, 60)

    assert hit == PrefixHit("conv-1", StateLocation.RAM, 256)


def test_a_preempted_jobs_state_is_paged_out_and_resumed_from_disk() -> None:
    s = scheduler(model("m", threads=2), kv_ram_bytes=10 * MB)
    batch, decisions = submit(s, 0, priority=Priority.BATCH)
    loaded(s, decisions, 0)
    interactive, _ = submit(s, 1, priority=Priority.INTERACTIVE)

    assert s.on_preempted(batch, SavedState("kv", "m", 20 * MB), 1.1) == [PageOut("kv")]
    decisions = s.on_finished(interactive, 2)

    assert decisions == [Resume(batch, "m", "kv", StateLocation.DISK)]
    # The backend frees the state once restored: the cache holds it no more.
    assert s.stats(2).kv_disk_used == 0


ALICE, MALLORY = OWNER, OWNER + 1


def test_a_saved_conversation_is_reused_only_by_its_owner() -> None:
    # A saved state's prefix hit tells its requester how many leading tokens
    # match (the job's cached_tokens, its time to first token): shared across
    # users, it would let one guess another's prompt and answer, a block at a time.
    s = scheduler(model("m", slots=2), cpu_threads=2)
    alices, decisions = submit(s, 0, owner=ALICE, prompt_tokens=12)
    loaded(s, decisions, 1)
    conversation = prefix_blocks(list(range(300)))
    s.on_finished(alices, 5, kept=SavedState("alices-conv", "m", 5 * MB, conversation[:4]))
    guess, _ = submit(s, 60, owner=MALLORY, prompt_tokens=300)
    next_turn, _ = submit(s, 61, owner=ALICE, prompt_tokens=300)

    assert s.reusable_state(guess, conversation, 62) is None
    assert s.reusable_state(next_turn, conversation, 63) == PrefixHit(
        "alices-conv", StateLocation.RAM, 256
    )
