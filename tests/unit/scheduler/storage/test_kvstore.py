"""Saved KV states' bytes: in RAM, paged to files, read back, dropped without a trace."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_a_paged_state_with_a_flipped_byte_is_discarded_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = KvStore(tmp_path)
    for name in ("in-the-bytes", "in-the-tokens"):
        store.put(name, STATE)
        store.page_out(name)
    store.flush()
    for name, offset in (("in-the-bytes", -100), ("in-the-tokens", -len(STATE.data) - 3)):
        page = bytearray((tmp_path / f"{name}.kv").read_bytes())
        page[offset] ^= 0x01
        (tmp_path / f"{name}.kv").write_bytes(page)

    assert store.get("in-the-bytes") is None
    assert store.get("in-the-tokens") is None
    assert caplog.text.count("fails its integrity check") == 2
