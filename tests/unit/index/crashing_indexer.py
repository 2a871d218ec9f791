"""A process that indexes files, prints each path acknowledged, and is killed
(SIGKILL) inside a chromadb write, after SQLite committed what it writes.

    python -m tests.unit.index.crashing_indexer STATE_DIR MODEL_DIR FILE...

The first files are acknowledged normally; then chromadb's writes are replaced
by a SIGKILL, and the last file commits to SQLite and dies on its way to
chromadb: the outbox must bring it there at the next open.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from chromadb.api.models.Collection import Collection

from noosd.index.store import IndexStore
from noosd.shared.embedding import load_embedder


def main() -> None:
    state_dir, model_dir, *paths = (Path(arg) for arg in sys.argv[1:])
    engine = IndexStore(state_dir, load_embedder(model_dir))
    for number, path in enumerate(paths, start=1):
        if number == len(paths):
            Collection.upsert = _die  # type: ignore[method-assign,assignment]
        engine.index_file(path)
        print(path, flush=True)


def _die(*_: object, **__: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
