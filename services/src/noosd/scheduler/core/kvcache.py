"""Saved KV states: what to page out to disk, and which to reuse for a prompt.

The backend saves a job's KV state when the job is preempted (the job resumes
from it: `held`, never dropped nor shared) and may keep it when a job ends (a
conversation's next turn starts from it). Saved states live in RAM under a
budget; over it, the states with the most idle byte-seconds (idle time times
size: big and long-unused first) are paged out to disk, and over the disk
budget, the least recently used states that no job holds are dropped. Nothing
is paged out while the RAM budget holds.

Prefix reuse: a prompt's tokens are cut into blocks of `BLOCK_TOKENS`, and
each full block is named by a digest chained from the previous ones, so that
one digest names a whole prefix (vLLM's prefix caching does the same). A
state is indexed under the digests of every prefix it holds; the longest
prefix of a new prompt found in the index names the states it can start from,
which skips evaluating that many tokens.

A state is reused only by jobs of the user whose job saved it: the index is
per owner. Shared, a hit would tell another user how many blocks of their
guess of someone's prompt and answer are right (the job's cached_tokens, and
its time to first token), 64 tokens at a time.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from noosd.scheduler.core.decisions import Drop, PageOut, StateLocation

BLOCK_TOKENS = 64
DIGEST_BYTES = 16


def prefix_blocks(tokens: Sequence[int], block_tokens: int = BLOCK_TOKENS) -> tuple[bytes, ...]:
    """The chained digests of the full blocks of `tokens`: the i-th names
    tokens[: (i + 1) * block_tokens] as a whole. A partial last block has none."""
    digests: list[bytes] = []
    previous = b""
    for start in range(0, len(tokens) - block_tokens + 1, block_tokens):
        digest = hashlib.blake2b(previous, digest_size=DIGEST_BYTES)
        digest.update(array("q", tokens[start : start + block_tokens]).tobytes())
        previous = digest.digest()
        digests.append(previous)
    return tuple(digests)


@dataclass(frozen=True)
class SavedState:
    """A KV state the backend saved, under an id of its own choosing."""

    id: str
    model: str
    # Bytes, in RAM or on disk.
    size: int
    # prefix_blocks of the tokens it holds; empty for a state no one may share.
    blocks: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class PrefixHit:
    """A state holding the first `tokens` of a prompt."""

    state: str
    location: StateLocation
    tokens: int


# Whose states, of which model, hold which prefix: an index key.
_Prefix = tuple[int, str, bytes]


class PrefixIndex:
    """Block digests, per owner and model, to the ids of the states holding that prefix."""

    def __init__(self) -> None:
        self._holders: dict[_Prefix, set[str]] = {}
        self._indexed: dict[str, tuple[int, str, tuple[bytes, ...]]] = {}

    def add(self, state: str, owner: int, model: str, blocks: tuple[bytes, ...]) -> None:
        self.remove(state)
        self._indexed[state] = (owner, model, blocks)
        for digest in blocks:
            self._holders.setdefault((owner, model, digest), set()).add(state)

    def remove(self, state: str) -> None:
        owner, model, blocks = self._indexed.pop(state, (0, "", ()))
        for digest in blocks:
            holders = self._holders[(owner, model, digest)]
            holders.discard(state)
            if not holders:
                del self._holders[(owner, model, digest)]

    def longest(
        self, owner: int, model: str, blocks: Sequence[bytes]
    ) -> tuple[int, frozenset[str]]:
        """How many leading blocks some state of the owner's holds, and the states
        that hold them."""
        matched, holders = 0, frozenset[str]()
        for depth, digest in enumerate(blocks, start=1):
            found = self._holders.get((owner, model, digest))
            if not found:
                break
            matched, holders = depth, frozenset(found)
        return matched, holders


@dataclass
class _Kept:
    state: SavedState
    location: StateLocation
    last_used: float
    held: bool


class KvCache:
    def __init__(self, ram_bytes: int, disk_bytes: int, block_tokens: int = BLOCK_TOKENS) -> None:
        self.ram_bytes = ram_bytes
        self.disk_bytes = disk_bytes
        self.block_tokens = block_tokens
        self._kept: dict[str, _Kept] = {}
        self._index = PrefixIndex()

    def _used(self, location: StateLocation) -> int:
        return sum(k.state.size for k in self._kept.values() if k.location is location)

    @property
    def ram_used(self) -> int:
        return self._used(StateLocation.RAM)

    @property
    def disk_used(self) -> int:
        return self._used(StateLocation.DISK)

    def location(self, state: str) -> StateLocation | None:
        kept = self._kept.get(state)
        return kept.location if kept else None

    def keep(self, state: SavedState, owner: int, now: float, *, held: bool) -> None:
        """A state the backend saved for a job of `owner`, in RAM. A held one is a
        preempted job's; an unheld one is offered to the owner's later prompts."""
        self._kept[state.id] = _Kept(state, StateLocation.RAM, now, held)
        if held:
            self._index.remove(state.id)
        else:
            self._index.add(state.id, owner, state.model, state.blocks)

    def take(self, state: str) -> StateLocation:
        """Hand a held state back to its job, which resumes from it (the backend frees it)."""
        self._index.remove(state)
        return self._kept.pop(state).location

    def drop(self, state: str) -> list[Drop]:
        """Forget a state; the decision to delete it, if it was kept."""
        self._index.remove(state)
        return [Drop(state)] if self._kept.pop(state, None) else []

    def lookup(
        self, owner: int, model: str, blocks: Sequence[bytes], now: float
    ) -> PrefixHit | None:
        """The state of the owner's to start a prompt of these blocks from: the
        longest prefix, then one in RAM, then the most recently used."""
        matched, holders = self._index.longest(owner, model, blocks)
        if not matched:
            return None
        best = min(
            (self._kept[state] for state in holders),
            key=lambda k: (k.location is not StateLocation.RAM, -k.last_used, k.state.id),
        )
        best.last_used = now
        return PrefixHit(best.state.id, best.location, matched * self.block_tokens)

    def paging(self, now: float) -> list[PageOut | Drop]:
        """What brings RAM and disk back within their budgets, in that order."""
        decisions: list[PageOut | Drop] = []
        in_ram = [k for k in self._kept.values() if k.location is StateLocation.RAM]
        # Most idle byte-seconds first; among states idle alike, the biggest.
        in_ram.sort(key=lambda k: (-(now - k.last_used) * k.state.size, -k.state.size, k.state.id))
        ram_used = self.ram_used
        for kept in in_ram:
            if ram_used <= self.ram_bytes:
                break
            kept.location = StateLocation.DISK
            ram_used -= kept.state.size
            decisions.append(PageOut(kept.state.id))
        droppable = [
            k for k in self._kept.values() if k.location is StateLocation.DISK and not k.held
        ]
        droppable.sort(key=lambda k: (k.last_used, k.state.id))
        disk_used = self.disk_used
        for kept in droppable:
            if disk_used <= self.disk_bytes:
                break
            disk_used -= kept.state.size
            decisions.extend(self.drop(kept.state.id))
        return decisions
