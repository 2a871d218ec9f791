"""Consolidation: what the store does to each user's memories now and then.

In order:

1. merge near-duplicates: two current (not superseded) memories of the same
   kind, one of them added since the last run, are linked when they say the
   same words (up to case, spacing and punctuation: `codec.words`; found by
   their hash in SQLite), or when they are machine events (commands, file
   events: `kinds.MERGED_BY_MEANING`) whose cosine is at least
   duplicate_similarity and that name the same particulars (numbers, names,
   codes, paths, flags: `particulars`), so that "port 8080" never swallows
   "port 8081". Other kinds never merge by vector alone: MiniLM cannot tell a
   note that a script broke from one that it was fixed (cosine 0.989). Each
   group of linked memories (single linkage) becomes its oldest member. An
   event's neighbours are found by searching every tier once per distinct new
   text, so that a stream of repeated commands costs a search per command,
   not per repetition. The survivor records the merged ids
   and their creation times (its provenance), is pinned if any of them was,
   and adds up their accesses; the repetitions raise its importance (see
   scoring). What a merged memory superseded is superseded by the survivor.
2. decay and prune: every memory is re-scored for the time elapsed; one whose
   retention fell below prune_threshold is deleted from every store, unless it
   is pinned or of a kind never pruned (identity). Superseded memories are kept
   for as long as their retention lasts: they record what was true when.
3. rebalance the tiers (see tiering.consolidated_tiers).
4. write to chromadb the warm memories it lacks, rebuild its index if deleted
   vectors dominate it; SQLite hands freed pages back and truncates its WAL.
"""

from __future__ import annotations

import re

from noosd.memory.core import scoring
from noosd.memory.core.codec import EDGE_PUNCTUATION, words
from noosd.memory.core.kinds import MERGED_BY_MEANING
from noosd.memory.core.model import ConsolidationReport
from noosd.memory.core.tiering import COLD, WARM, consolidated_tiers
from noosd.memory.user import UserMemories

# Neighbours of each new text examined in chromadb for duplicates (in RAM, all).
DUPLICATE_NEIGHBOURS = 8
# New memories compared at a time.
DUPLICATE_BLOCK = 1024
# Watermarks in the state table: the newest memory checked for near-duplicates,
# and for repetitions; and the repetitions merged since the last consolidation.
DUPLICATES_CHECKED = "dedup_watermark"
REPETITIONS_CHECKED = "repetition_watermark"
MERGED_EARLY = "merged_early"


def consolidate(user: UserMemories, now: float) -> ConsolidationReport:
    """Consolidate one user's memories as of `now` (see the module docstring)."""
    user.apply_accesses()
    before = user.bytes_used()
    merged = merge_duplicates(user)
    with user.db.transaction():
        merged += user.db.state(MERGED_EARLY)
        user.db.set_state(MERGED_EARLY, 0)

    columns = user.db.scoring()
    recency, importance = user.components(columns, now)
    retention = scoring.retention(recency, importance)
    doomed = (retention < user.config.prune_threshold) & ~columns.pinned & ~columns.never_pruned
    pruned = user.delete(columns.ids[doomed].tolist()) if doomed.any() else 0

    kept = ~doomed
    ids, tiers = columns.ids[kept], columns.tiers[kept]
    targets = consolidated_tiers(tiers, recency[kept], retention[kept], user.config)
    promoted = demoted = 0
    # Consolidation never promotes to hot: only an access does.
    for tier in (COLD, WARM):
        for moved in user.move(ids[(targets == tier) & (tiers != tier)].tolist(), tier):
            promoted += moved.old_tier > tier
            demoted += moved.old_tier < tier

    user.sync_warm()
    user.rebuild_warm_if_sparse()
    user.reclaim()
    return ConsolidationReport(
        users=1,
        decayed=len(columns.ids),
        merged=merged,
        pruned=pruned,
        promoted=promoted,
        demoted=demoted,
        bytes_reclaimed=max(0, before - user.bytes_used()),
    )


def merge_duplicates(user: UserMemories) -> int:
    """Merge the near-duplicates of the memories added since the last run; returns
    how many were merged away."""
    return _merge(user, DUPLICATES_CHECKED, near=True)


def merge_repetitions(user: UserMemories, before: int) -> int:
    """Merge the repetitions (same kind, same text) among the memories older than
    the id `before` that were added since this last ran: the cheap half of
    `merge_duplicates`, which the store runs when its write-behind buffer
    fills, so that repetitions never reach chromadb. The next consolidation
    reports them among its merges."""
    return _merge(user, REPETITIONS_CHECKED, near=False, before=before, tally=MERGED_EARLY)


def _merge(
    user: UserMemories,
    checked: str,
    *,
    near: bool,
    before: int | None = None,
    tally: str | None = None,
) -> int:
    """Merge what the memories added after the watermark `checked` (and before the
    id `before`) repeat, and if `near` what they nearly duplicate; move the
    watermark; returns how many were merged away, added to the state `tally`
    if given."""
    db = user.db
    newest = db.largest_id() if before is None else before - 1
    new_ids = [i for i in db.ids_after(db.state(checked)) if i <= newest]
    # Repetitions of one text, by hash, each group once (blocks may meet a group twice).
    repeated: dict[int, list[int]] = {}
    for start in range(0, len(new_ids), DUPLICATE_BLOCK):
        for text_hash, members in db.repetitions_of(
            new_ids[start : start + DUPLICATE_BLOCK]
        ).items():
            repeated[text_hash] = [i for i in members if i <= newest]
    # One search per distinct new event: its newest repetition stands for it.
    newest_of_each = [members[-1] for members in repeated.values()] if near else []
    representatives = [
        memory.id
        for memory in db.fetch(newest_of_each).values()
        if memory.kind in MERGED_BY_MEANING
    ]
    links: list[tuple[int, int]] = []
    for start in range(0, len(representatives), DUPLICATE_BLOCK):
        ids, vectors = db.vectors(representatives[start : start + DUPLICATE_BLOCK])
        similar = user.similar(vectors, user.config.duplicate_similarity, DUPLICATE_NEIGHBOURS)
        for memory_id, neighbours in zip(ids.tolist(), similar, strict=True):
            links.extend((memory_id, other) for other in neighbours if other != memory_id)

    involved = {i for members in repeated.values() if len(members) > 1 for i in members}
    stored = db.fetch(sorted(involved | {i for link in links for i in link}))
    groups = _Groups()
    for members in repeated.values():
        if len(members) > 1:
            # The same hash and the same words (a 64-bit hash collides almost never).
            head = stored[members[0]]
            groups.link_all(
                [
                    i
                    for i in members
                    if (stored[i].kind, words(stored[i].text)) == (head.kind, words(head.text))
                ]
            )
    for a, b in links:
        first, second = stored.get(a), stored.get(b)
        if (
            first is not None
            and second is not None
            and first.kind == second.kind
            and first.superseded_at is None
            and second.superseded_at is None
            and particulars(first.text) == particulars(second.text)
        ):
            groups.link_all([a, b])

    deleted: list[tuple[int, int]] = []
    with db.transaction():
        for members in groups.groups():
            survivor, *rest = sorted(members)
            group = [stored[i] for i in members]
            deleted += db.absorb(
                survivor,
                [stored[i] for i in rest],
                last_accessed=max(m.last_accessed for m in group),
                access_count=sum(m.access_count for m in group),
                pinned=any(m.pinned for m in group),
            )
        db.set_state(checked, newest)
        if tally is not None:
            db.set_state(tally, db.state(tally) + len(deleted))
    user.forget_in_ram(deleted)
    return len(deleted)


# A token with a digit or a symbol inside (555-0101, ~/src, --force, a@b.c).
_MARKED = re.compile(r"\d|\w[^\w\s]+\w|^[^\w\s]")


def particulars(text: str) -> frozenset[str]:
    """The tokens of a text that name particular things: those with a digit or a
    symbol inside, and capitalised words after the first (names). Two texts that
    differ in these say different things, however alike they read."""
    found = set()
    for position, raw in enumerate(text.split()):
        token = raw.strip(EDGE_PUNCTUATION)
        if _MARKED.search(token) or (position > 0 and token[:1].isupper()):
            found.add(token.lower())
    return frozenset(found)


class _Groups:
    """Union-find over memory ids: the groups of linked near-duplicates."""

    def __init__(self) -> None:
        self._parent: dict[int, int] = {}

    def _root(self, item: int) -> int:
        root = self._parent.setdefault(item, item)
        while self._parent[root] != root:
            root = self._parent[root]
        while item != root:  # path compression
            item, self._parent[item] = self._parent[item], root
        return root

    def link_all(self, items: list[int]) -> None:
        root = self._root(items[0])
        for item in items[1:]:
            self._parent[self._root(item)] = root

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = {}
        for item in self._parent:
            members.setdefault(self._root(item), []).append(item)
        return [group for group in members.values() if len(group) > 1]
