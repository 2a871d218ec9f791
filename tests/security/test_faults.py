"""Faults: kill -9 of the memory service during four users' concurrent writes,
a full disk, and corrupt state. Real service subprocesses on a private bus,
real SIGKILL, a real loop-mounted ext4 that fills up; `make bench
security_faults` runs the same campaign longer and prints its figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from noos import Corrupted, Memory
from noosd.memory.user import DATABASE_FILE
from tests.fixtures.loopfs import small_disk
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.private_bus import PrivateBus
from tests.security.faults import (
    USERS,
    disk_full_campaign,
    index_kill_campaign,
    kill_campaign,
    stored_texts,
    write_as,
)

WRITES_PER_USER = 50
# After each write: 50 writes then take 2.5 s at least, and the first kill
# comes within KILL_EVERY_S[1], however fast the machine.
PAUSE_S = 0.05
KILL_EVERY_S = (0.5, 2.0)


@pytest.fixture
def bus() -> Iterator[PrivateBus]:
    bus = PrivateBus()
    yield bus
    bus.stop()


def test_kill_9_during_four_users_writes_loses_and_duplicates_nothing(
    bus: PrivateBus, tmp_path: Path
) -> None:
    figures = kill_campaign(
        bus.address,
        tmp_path,
        shipped_models_tree(),
        writes_per_user=WRITES_PER_USER,
        pause_s=PAUSE_S,
        kill_every_s=KILL_EVERY_S,
    )

    assert figures.kills >= 1
    assert figures.acknowledged > 0
    assert figures.lost == []
    assert figures.duplicates == []
    # While the service is down a write fails as the bus says: no owner.
    assert set(figures.failed) <= {"Unavailable"}


def test_kill_9_during_four_users_index_writes_loses_nothing(
    bus: PrivateBus, tmp_path: Path
) -> None:
    figures = index_kill_campaign(
        bus.address,
        tmp_path,
        writes_per_user=WRITES_PER_USER,
        pause_s=PAUSE_S,
        kill_every_s=KILL_EVERY_S,
    )

    assert figures.kills >= 1
    assert figures.acknowledged > 0
    assert figures.lost == []
    assert figures.duplicates == []
    assert set(figures.failed) <= {"Unavailable"}


def test_a_full_disk_gives_clear_errors_corrupts_nothing_and_recovers(
    bus: PrivateBus, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", size_mib=16) as disk:
        figures = disk_full_campaign(bus.address, disk, shipped_models_tree(), writes=5)

    assert set(figures.before) == {"ok"}
    assert set(figures.full) <= {"ok", "Unavailable"}
    assert figures.full["Unavailable"] > 0
    assert set(figures.after) == {"ok"}
    assert figures.lost == []
    assert figures.corrupt == []


async def test_a_corrupt_database_is_one_users_clear_error_and_no_one_elses(
    bus: PrivateBus, tmp_path: Path
) -> None:
    models = shipped_models_tree()
    service = start_memory(bus.address, tmp_path, models)
    async with await Memory.connect(bus.address) as memory:
        await memory.remember("root's note, soon damaged", kind="note")
    others = {uid: write_as(uid, bus.address, f"intact {uid}", 2) for uid in USERS}
    assert service.terminate() == 0, service.stderr
    root_db = tmp_path / "users" / "0" / DATABASE_FILE
    root_db.write_bytes(b"not a database at all" * 200)

    service = start_memory(bus.address, tmp_path, models)
    try:
        async with await Memory.connect(bus.address) as memory:
            with pytest.raises(Corrupted, match=r"set aside as 0\.corrupt-"):
                await memory.recall("root's note", limit=3)
            assert await memory.recall("root's note", limit=3) == []
            await memory.remember("root starts afresh", kind="note")
        again = {uid: write_as(uid, bus.address, f"still {uid}", 1) for uid in USERS}
    finally:
        assert service.terminate() == 0, service.stderr

    assert [p.name.startswith("0.corrupt-") for p in (tmp_path / "users").iterdir()].count(True)
    for uid in USERS:
        assert [w["outcome"] for w in others[uid] + again[uid]] == ["ok"] * 3
        assert sum(stored_texts(tmp_path, uid).values()) == 3
