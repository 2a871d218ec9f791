"""A user's database written by an older noos opens, migrated, with nothing lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from noosd.memory.core.ids import parse_id
from noosd.memory.storage.database import SCHEMA_VERSION, MemoryDatabase, NewMemoryRow
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
    # What version 1 wrote: no time_reference column, no memory_words.
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE memories DROP COLUMN time_reference")
    db.execute("DROP TABLE memory_words")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    store = make_store()
    hits = store.recall(USER, "when did we move to Lisbon?", 2)

    assert {hit.memory.id: hit.timely for hit in hits} == {dated.id: True, undated.id: False}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_version_2_database_gets_its_words_indexed(
    make_store: Callable[..., MemoryStore], state_dir: Path
) -> None:
    """A user's memories.db from before hybrid recall opens, and its memories,
    cold ones included, are found by their words."""
    store = make_store(hot_capacity=1, warm_capacity=1)
    # Long enough that going cold compresses it.
    cold_text = "the locker combination for the gym is 4471, as the gym said. " * 4
    cold = store.remember(USER, cold_text, "note", {})
    store.remember(USER, "water the ferns on Sunday", "note", {})
    kept = store.remember(USER, "the boiler engineer is called Wojciechowski", "note", {})
    store.close()
    path = state_dir / "users" / str(USER) / DATABASE_FILE
    db = sqlite3.connect(path)
    # Cold: its text compressed, which the migration reads as such.
    tier = "SELECT tier, text_zlib FROM memories WHERE id = ?"
    assert db.execute(tier, (parse_id(cold.id),)).fetchone() == (2, 1)
    db.execute("DROP TABLE memory_words")  # what version 2 lacked
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()

    store = make_store()
    assert store.recall(USER, "Wojciechowski", 1)[0].memory.id == kept.id
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    found = {
        word: [
            row[0]
            for row in db.execute(
                "SELECT rowid FROM memory_words WHERE memory_words MATCH ?", (word,)
            )
        ]
        for word in ("wojciechowski", "4471", "boiler")
    }
    db.close()
    assert found == {
        "wojciechowski": [parse_id(kept.id)],
        "4471": [parse_id(cold.id)],
        "boiler": [parse_id(kept.id)],
    }


def lexical_database(path: Path, texts: list[str]) -> MemoryDatabase:
    db = MemoryDatabase(path)
    vector = np.zeros(4, dtype=np.float32)
    with db.transaction():
        db.insert(
            [
                NewMemoryRow(n, "note", text, {}, 0.0, 0.5, vector)
                for n, text in enumerate(texts, start=1)
            ]
        )
    return db


def test_the_lexical_stage_scores_the_rarest_words_first_within_its_budget(
    tmp_path: Path,
) -> None:
    """ "zyzzyva" (1 memory) and "shared" (2,500, within a million's common
    limit of 10,000): both together would score 2,501 rows, over the budget,
    so the commoner word is left out and only the rare word's memory comes."""
    texts = ["a zyzzyva is a weevil"] + [f"shared note {n}" for n in range(2500)]
    db = lexical_database(tmp_path / "words.sqlite3", texts)

    found = db.lexical(['"shared"', '"zyzzyva"'], memories=1_000_000, k=10)
    alone = db.lexical(['"shared"'], memories=1_000_000, k=10)
    db.close()

    assert [memory_id for memory_id, _ in found] == [1]
    assert len(alone) == 10  # the rarest word is always scored, whatever its count


def test_a_word_in_more_than_the_common_limit_is_left_out(tmp_path: Path) -> None:
    texts = ["a zyzzyva is a weevil"] + [f"shared note {n}" for n in range(1001)]
    db = lexical_database(tmp_path / "words.sqlite3", texts)

    assert db.lexical(['"shared"'], memories=1002, k=10) == []
    assert [memory_id for memory_id, _ in db.lexical(['"weevil"'], 1002, 10)] == [1]
    db.close()
