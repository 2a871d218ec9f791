"""Durability: what `remember` acknowledged survives kill -9, and chromadb, a
cache of SQLite, is brought back in line when a user's memories are opened."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from noosd.memory.core.model import Tier
from noosd.memory.storage.warm import WarmIndex
from noosd.memory.store import MemoryStore
from noosd.memory.user import WARM_DIR
from tests.unit.memory import crashing_writer
from tests.unit.memory.conftest import REPO, chromadb_ids, warm_ids

USER = crashing_writer.UID


def user_dir(state_dir: Path) -> Path:
    return state_dir / "users" / str(USER)


def test_acknowledged_memories_survive_kill_9_and_chromadb_catches_up(
    state_dir: Path, model_dir: Path, make_store: Callable[..., MemoryStore]
) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "tests.unit.memory.crashing_writer", state_dir, model_dir],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    acknowledged = child.stdout.split()
    assert len(acknowledged) == crashing_writer.ACKNOWLEDGED
    # The crash left warm memories in SQLite that chromadb never got.
    assert warm_ids(state_dir, USER) - chromadb_ids(state_dir, USER)

    store = make_store(hot_capacity=2, max_unwritten_warm=0)
    hits = store.recall(USER, "where is the fuse box?", 1)

    # Every warm memory is in chromadb again (the one just recalled moved to hot,
    # and leaves chromadb with the next write).
    assert warm_ids(state_dir, USER) <= chromadb_ids(state_dir, USER)
    assert hits[0].memory.id == acknowledged[0]
    for number, memory_id in enumerate(acknowledged, start=1):
        memory = store.get(USER, memory_id)
        assert (memory.text, memory.metadata) == (crashing_writer.TEXTS[number - 1], {"n": number})


def test_chromadb_lost_entirely_is_rebuilt_from_sqlite(
    state_dir: Path, make_store: Callable[..., MemoryStore]
) -> None:
    first = make_store(hot_capacity=2, max_unwritten_warm=0)
    ids = [first.remember(USER, text, "note", {}).id for text in crashing_writer.TEXTS]
    first.close()
    assert first.stats(USER).counts[Tier.WARM] > 0
    shutil.rmtree(user_dir(state_dir) / WARM_DIR)

    second = make_store(hot_capacity=2, max_unwritten_warm=0)
    hits = second.recall(USER, "the name of the cat next door", 1)

    assert hits[0].memory.id == ids[2]
    assert warm_ids(state_dir, USER) <= chromadb_ids(state_dir, USER)
    second.close()
    assert chromadb_ids(state_dir, USER) == warm_ids(state_dir, USER)


class Crash(Exception):
    """Stands for the process dying."""


def test_a_forget_that_crashed_before_reaching_chromadb_is_finished_on_open(
    state_dir: Path, make_store: Callable[..., MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_store(hot_capacity=2, max_unwritten_warm=0)
    for text in crashing_writer.TEXTS:
        first.remember(USER, text, "note", {})
    forgotten, *kept = sorted(warm_ids(state_dir, USER))
    assert forgotten in chromadb_ids(state_dir, USER)

    def crash(*_: object) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(WarmIndex, "delete", crash)
        with pytest.raises(Crash):
            first.forget(USER, [forgotten])
    assert forgotten in chromadb_ids(state_dir, USER)

    second = make_store(hot_capacity=2, max_unwritten_warm=0)
    assert second.stats(USER).counts[Tier.WARM] == len(kept)
    second.pin(USER, kept[0], True)

    assert forgotten not in chromadb_ids(state_dir, USER)
    assert chromadb_ids(state_dir, USER) == warm_ids(state_dir, USER) == set(kept)
