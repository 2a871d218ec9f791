"""What re-indexing a changed file costs: which chunks to embed, keep and drop.

A chunk's embedding is stored under its content hash (per file), so a write
re-embeds only the texts the file did not have before. A chunk that merely
moved (lines inserted above it) keeps its vector: storage rewrites where the
file's chunks are (`Chunk.start_line`...), not what they mean. Two chunks of
one file with the same text share a vector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from noosd.index.core.chunking import Chunk


@dataclass(frozen=True)
class ChunkChanges:
    """to_embed: one new chunk per text the file did not have (in file order);
    to_keep: the hashes of the stored texts the file still has;
    to_drop: the hashes of the stored texts it no longer has."""

    to_embed: tuple[Chunk, ...]
    to_keep: frozenset[str]
    to_drop: frozenset[str]


def plan_changes(stored_hashes: Iterable[str], chunks: Sequence[Chunk]) -> ChunkChanges:
    """The changes that bring a file's stored chunks (by hash) to its new `chunks`."""
    stored = frozenset(stored_hashes)
    new: dict[str, Chunk] = {}
    for chunk in chunks:
        new.setdefault(chunk.content_hash, chunk)
    return ChunkChanges(
        to_embed=tuple(chunk for text_hash, chunk in new.items() if text_hash not in stored),
        to_keep=stored & new.keys(),
        to_drop=stored - new.keys(),
    )
