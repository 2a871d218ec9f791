"""A process that remembers, prints the id of each memory acknowledged, and is
killed (SIGKILL) inside a chromadb write, after SQLite committed what it writes.

    python -m tests.unit.memory.crashing_writer STATE_DIR MODEL_DIR

With a hot tier of two, and warm memories written to chromadb at once (not at
consolidation), the third memory moves two to the warm tier (chromadb); then
chromadb's writes are replaced by a SIGKILL: the fourth memory is
acknowledged, the fifth commits and moves two more to warm, and the process
dies writing them to chromadb.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from noosd.memory.core.config import MemoryConfig
from noosd.memory.storage.warm import WarmIndex
from noosd.memory.store import MemoryStore
from noosd.shared.embedding import load_embedder

UID = 1000
TEXTS = [
    "the fuse box is behind the coat rack",
    "journalctl -u nginx --since today",
    "the neighbours' cat is called Biscuit",
    "the recycling goes out on Tuesdays",
    "the gas meter reading was 04512",
]
ACKNOWLEDGED = 4


def main() -> None:
    state_dir, model_dir = Path(sys.argv[1]), Path(sys.argv[2])
    store = MemoryStore(
        state_dir,
        load_embedder(model_dir),
        MemoryConfig(hot_capacity=2, max_unwritten_warm=0),
    )
    for number, text in enumerate(TEXTS, start=1):
        if number == ACKNOWLEDGED:
            WarmIndex.upsert = _die  # type: ignore[method-assign,assignment]
        print(store.remember(UID, text, "note", {"n": number}).id, flush=True)


def _die(*_: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
