"""What the index engine returns: search hits, the outcome of indexing a file, its status."""

from __future__ import annotations

from dataclasses import dataclass

from noosd.index.core.snippets import Snippet


@dataclass(frozen=True)
class SearchHit:
    """A file found by a search, through its best chunk.

    `path` is os.fsdecode of the file's name: a name that is not valid UTF-8
    holds lone surrogates here (os.fsencode gives its bytes back), which D-Bus
    strings cannot carry. `score` is the best chunk's fused reciprocal-rank
    score (0 for a query of filters alone, whose hits are newest first).
    `device` is the removable medium the file is on (None: a fixed disk).
    """

    path: str
    score: float
    snippet: Snippet
    mtime: float
    language: str | None
    device: str | None


@dataclass(frozen=True)
class IndexStatus:
    """Files and chunks indexed, files that failed, and the index's bytes on disk."""

    files: int
    chunks: int
    failed: int
    bytes: int


@dataclass(frozen=True)
class Indexed:
    """What indexing one path did.

    embedded: chunks the model embedded for it; kept: chunks whose vector was
    already stored (this file's, or the same text in another file); dropped:
    stored chunks it no longer has (all of them when it is skipped after having
    been indexed). `skipped` says why it is not indexed ("vanished", "binary
    content ...", "... bytes; the most indexed for text is ...", "unreadable
    (...)", "not a regular file"), None when it is.
    """

    path: str
    embedded: int
    kept: int
    dropped: int
    skipped: str | None
