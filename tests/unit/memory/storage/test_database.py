"""A user's database written by an older noos opens, migrated, with nothing lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from noosd.memory.storage.database import SCHEMA_VERSION
from noosd.memory.store import MemoryStore
from noosd.memory.user import DATABASE_FILE

USER = 1000


def test_a_version_1_database_gains_the_time_reference_flags(
    make_store: Callable[..., MemoryStore], state_dir: Path
) -> None:
    store = make_store()
    dated = store.remember(USER, "we moved to Lisbon in March", "conversation", {})
    undated = store.remember(USER, "the spare key is under the flowerpot", "note", {})
    store.close()
    path = state_dir / "users" / str(USER) / DATABASE_FILE
    # What version 1 wrote: no time_reference column.
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE memories DROP COLUMN time_reference")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    store = make_store()
    hits = store.recall(USER, "when did we move to Lisbon?", 2)

    assert {hit.memory.id: hit.timely for hit in hits} == {dated.id: True, undated.id: False}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
