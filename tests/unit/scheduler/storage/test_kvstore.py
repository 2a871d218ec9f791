"""Saved KV states' bytes: in RAM, paged to files, read back, dropped without a trace."""

from __future__ import annotations

from pathlib import Path

from noosd.scheduler.backends.base import KvState
from noosd.scheduler.storage.kvstore import KvStore

STATE = KvState(data=bytes(range(256)) * 64, tokens=(1, 2, 3, 70000))


def test_a_paged_state_reads_back_from_its_file_whole(tmp_path: Path) -> None:
    store = KvStore(tmp_path)
    store.put("a", STATE)
    store.page_out("a")
    store.flush()

    assert [p.name for p in tmp_path.iterdir()] == ["a.kv"]
    assert store.get("a") == STATE


def test_dropping_removes_the_state_wherever_it_is(tmp_path: Path) -> None:
    store = KvStore(tmp_path)
    store.put("paged", STATE)
    store.put("in-ram", STATE)
    store.page_out("paged")
    store.flush()

    store.drop("paged")
    store.drop("in-ram")
    store.put("paged-and-dropped", STATE)
    store.page_out("paged-and-dropped")
    store.drop("paged-and-dropped")
    store.flush()

    assert list(tmp_path.iterdir()) == []
    assert store.get("paged") is None and store.get("in-ram") is None


def test_a_truncated_file_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    store = KvStore(tmp_path)
    store.put("a", STATE)
    store.page_out("a")
    store.flush()
    (tmp_path / "a.kv").write_bytes(b"\x09" + bytes(7))

    assert store.get("a") is None


def test_states_left_by_an_earlier_run_are_cleared(tmp_path: Path) -> None:
    (tmp_path / "old.kv").write_bytes(b"stale")
    (tmp_path / "old.kv.partial").write_bytes(b"stale")
    KvStore(tmp_path)
    assert list(tmp_path.iterdir()) == []
