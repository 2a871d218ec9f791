"""The semantic memory of noos: the domain core and storage of org.noos.Memory1.

The OS remembers what matters to each user and forgets what does not. Every
memory belongs to one uid; a user's calls never see, count or delete another's
(each user's memories live in files of their own, `state_dir/users/<uid>/`).

Scoring (`core.scoring`, after Generative Agents' blend): a recall ranks by

    score      = relevance + 0.03 * recency + 0.1 * importance + 0.08 * timely
    relevance  = cos(query, memory)
    recency    = 0.5 ** (seconds since last access / half-life)       (one week)
    importance = 1 if pinned, else
                 1 - (1 - base) * max(0.5, 0.8 ** repetitions) * 0.95 ** accesses
    timely     = the query asks when and the memory names a time (`temporal`)

where base is the hint given to `remember` or the kind's default (`kinds`: a
conversation turn's grows with its words), and returns the components with
each hit. Retention, the query-free
(recency + importance) / 2, decides what is demoted (below 0.25: cold) and what
is forgotten (below 0.1). Weights, half-life and thresholds are `MemoryConfig`.

Tiers (MemGPT/Letta's memory hierarchy), per user (`core.tiering`):

- hot: the most recently used memories (1,000 by default), a float32 matrix in
  RAM searched exhaustively (numpy; torch on a GPU when there is one);
- warm: the next 100,000 by retention, in chromadb's HNSW index (an embedded
  `PersistentClient` per user, cosine space), searched approximately; a
  memory just demoted waits in the hot matrix until consolidation writes it
  (write-behind), so that what is merged or pruned soon never costs chromadb;
- cold: the rest, int8 vectors with a scale each and zlib-compressed text,
  searched exhaustively in RAM (int8, a block at a time).

A recall takes the nearest candidates of every tier, lets SQLite apply the
filter, and re-ranks them into one list; what it returns is accessed and moves
to hot (in RAM at once, in SQLite in a batch after the reply). `consolidate`
merges near-duplicates that name the same particulars keeping their
provenance (mem0), decays and prunes, rebalances the tiers and reclaims the
freed bytes (`consolidation`). A fact can supersede another (Zep's bi-temporal facts): the
old one is marked with when and by what, kept, and left out of recalls unless
asked for.

Durability (`storage.database`, `user`): SQLite (WAL, synchronous=FULL) is the source of
truth; the RAM matrices and chromadb are caches rebuilt and reconciled from it
when a user's memories are opened, so a `remember` that returned survives
kill -9.

Layout of `state_dir`, and what `TierStats.bytes_used` counts (all of it):

    users/<uid>/memory.sqlite3   the memories (and -wal, -shm)
    users/<uid>/warm/            that user's chromadb
"""
