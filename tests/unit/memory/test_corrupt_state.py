"""Corrupt state: a user's damaged database (the truth) is set aside and that
user told `Corrupted`, then starts afresh; a damaged chromadb (a cache) is set
aside and rebuilt from SQLite without an error; a chromadb that cannot write
after SQLite committed fails nothing. Other users are never affected."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from noos.protocol.errors import Corrupted
from noosd.memory.core.config import MemoryConfig
from noosd.memory.core.model import Tier
from noosd.memory.storage.warm import WarmIndex
from noosd.memory.store import MemoryStore
from noosd.memory.user import DATABASE_FILE, WARM_DIR
from noosd.shared.embedding import Embedder
from tests.unit.memory.conftest import Clock, chromadb_ids, warm_ids

VICTIM, BYSTANDER = 1000, 1001
NOBODY = 65534
TEXTS = [
    "the spare key is under the blue flower pot",
    "my dentist appointment is on the third of March",
    "the cat next door is called Miso",
    "the wifi password is taped behind the router",
]


def remembered(store: MemoryStore, uid: int) -> list[str]:
    return [store.remember(uid, text, "note", {}).id for text in TEXTS]


def damage(path: Path, *, header: bool) -> None:
    """Overwrite a file with garbage: all of it, or all but its first page."""
    size = path.stat().st_size
    start = 0 if header else 4096
    with path.open("r+b") as file:
        file.seek(start)
        file.write(os.urandom(size - start))


@pytest.mark.parametrize("header", [False, True], ids=["damaged-pages", "not-a-database"])
def test_a_damaged_database_is_set_aside_and_its_user_starts_afresh(
    state_dir: Path, make_store: Callable[..., MemoryStore], header: bool
) -> None:
    first = make_store()
    remembered(first, VICTIM)
    bystander_ids = remembered(first, BYSTANDER)
    first.close()
    damage(state_dir / "users" / str(VICTIM) / DATABASE_FILE, header=header)

    second = make_store()
    with pytest.raises(Corrupted, match=r"set aside as .*corrupt-.*afresh"):
        second.recall(VICTIM, "where is the spare key?", 3)

    aside = [p.name for p in (state_dir / "users").iterdir() if p.name.startswith(f"{VICTIM}.")]
    assert len(aside) == 1 and aside[0].startswith(f"{VICTIM}.corrupt-")
    assert second.recall(VICTIM, "where is the spare key?", 3) == []
    fresh = second.remember(VICTIM, "a new start", "note", {})
    assert second.get(VICTIM, fresh.id).text == "a new start"
    hits = second.recall(BYSTANDER, "where is the spare key?", 1)
    assert hits[0].memory.id == bystander_ids[0]
    assert second.stats(BYSTANDER).counts[Tier.HOT] == len(TEXTS)


def test_a_damaged_chromadb_is_set_aside_and_rebuilt_without_an_error(
    state_dir: Path, make_store: Callable[..., MemoryStore]
) -> None:
    first = make_store(hot_capacity=1, max_unwritten_warm=0)
    ids = remembered(first, VICTIM)
    first.close()
    warm = state_dir / "users" / str(VICTIM) / WARM_DIR
    assert chromadb_ids(state_dir, VICTIM) == warm_ids(state_dir, VICTIM) != set()
    damage(warm / "chroma.sqlite3", header=True)

    second = make_store(hot_capacity=1, max_unwritten_warm=0)
    hits = second.recall(VICTIM, "where is the spare key?", 1)

    assert hits[0].memory.id == ids[0]
    aside = [p.name for p in warm.parent.iterdir() if p.name.startswith(f"{WARM_DIR}.corrupt-")]
    assert len(aside) == 1
    second.remember(VICTIM, "one more, to write chromadb again", "note", {})
    assert warm_ids(state_dir, VICTIM) <= chromadb_ids(state_dir, VICTIM)


def test_a_chromadb_that_cannot_write_after_sqlite_committed_fails_no_remember(
    embedder: Embedder, clock: Clock, nobodys_state_dir: Path
) -> None:
    """A real failure: the store runs as an unprivileged user whose directory
    refuses chromadb's files (EACCES). A full disk cannot stand in for it: the
    chromadb of this image hangs in its upsert when the disk is full."""
    state_dir = nobodys_state_dir
    config = MemoryConfig(hot_capacity=1, max_unwritten_warm=0)
    user_dir = state_dir / "users" / str(NOBODY)
    # chromadb's modules load as root first: nobody may not read them all.
    preload = WarmIndex(state_dir / "preload")
    preload.upsert([1], np.ones((1, embedder.dim), dtype=np.float32))
    preload.close()
    shutil.rmtree(state_dir / "preload")
    try:
        os.chown(state_dir, NOBODY, NOBODY)
        os.seteuid(NOBODY)
        store = MemoryStore(state_dir, embedder, config, clock)
        store.remember(NOBODY, "the first, before chromadb was refused", "note", {})
        user_dir.chmod(0o500)

        # Each demotes a memory to warm, which chromadb cannot take.
        stored = [store.remember(NOBODY, text, "note", {}) for text in TEXTS]

        assert [store.get(NOBODY, memory.id).text for memory in stored] == TEXTS
        assert sum(store.stats(NOBODY).counts.values()) == len(TEXTS) + 1
        assert not (user_dir / WARM_DIR).exists()
        hits = store.recall(NOBODY, "where is the spare key?", 1)
        assert hits[0].memory.id == stored[0].id
        user_dir.chmod(0o700)
        store.remember(NOBODY, "written once chromadb may write", "note", {})
        store.close()
    finally:
        os.seteuid(0)
    assert warm_ids(state_dir, NOBODY) == chromadb_ids(state_dir, NOBODY) != set()
    texts = stored_texts(state_dir / "users" / str(NOBODY) / DATABASE_FILE)
    assert sorted(texts.values()) == [1] * (len(TEXTS) + 2)


@pytest.fixture
def nobodys_state_dir() -> Iterator[Path]:
    """A state directory outside pytest's (0700, root's), which nobody may reach."""
    state_dir = Path(tempfile.mkdtemp(prefix="noos-memory-"))
    yield state_dir
    shutil.rmtree(state_dir)


def stored_texts(path: Path) -> Counter[str]:
    db = sqlite3.connect(path)
    try:
        return Counter(row[0] for row in db.execute("SELECT text FROM memories"))
    finally:
        db.close()
