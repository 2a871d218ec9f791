"""Faults: kill -9 of the memory, index and scheduler services during four
users' concurrent writes, a full disk, and corrupt state. Real service
subprocesses on a private bus, real SIGKILL, a real loop-mounted ext4 that
fills up; `make bench security_faults` runs the same campaign longer and
prints its figures."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbus_fast import Variant

from noos import Corrupted, Memory
from noos.bus import Connection
from noos.protocol.errors import Unavailable
from noosd.memory.user import DATABASE_FILE
from tests.fixtures.loopfs import small_disk
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import STOP_TIMEOUT_S, start_scheduler, write_catalog
from tests.security.faults import (
    USERS,
    disk_full_campaign,
    index_kill_campaign,
    kill_campaign,
    scheduler_kill_campaign,
    stored_texts,
    write_as,
)

WRITES_PER_USER = 50
# Each a job of the real SmolLM2: 120 jobs in all, over 3 s at least.
JOBS_PER_USER = 30
SUBMIT_PAUSE_S = 0.1
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


def test_kill_9_during_four_users_submits_loses_no_job_and_runs_none_twice(
    bus: PrivateBus, tmp_path: Path
) -> None:
    figures = scheduler_kill_campaign(
        bus.address,
        tmp_path,
        jobs_per_user=JOBS_PER_USER,
        pause_s=SUBMIT_PAUSE_S,
        kill_every_s=KILL_EVERY_S,
    )

    assert figures.kills >= 1
    assert figures.acknowledged > 0
    assert figures.lost == []
    assert figures.duplicates == []
    assert set(figures.failed) <= {"Unavailable"}


SCHEDULER = "org.noos.Scheduler1"
JOB = "org.noos.Scheduler1.Job"


async def test_a_wait_cut_by_kill_9_is_answered_after_the_restart(
    bus: PrivateBus, tmp_path: Path
) -> None:
    write_catalog(tmp_path / "models.d")
    service = start_scheduler(bus.address, tmp_path)
    async with await Connection.open(bus.address) as client:
        # A long answer, greedy: a count goes on to max_tokens, never to an end.
        request = {
            "prompt": Variant("s", "Counting from 1 to 1000: 1, 2, 3, 4, 5, 6,"),
            "max_tokens": Variant("i", 600),
            "temperature": Variant("d", 0.0),
        }
        (job,) = await client.call(
            SCHEDULER, "/org/noos/Scheduler1", SCHEDULER, "Submit", "a{sv}", [request]
        )
        waiting = asyncio.ensure_future(client.call(SCHEDULER, job, JOB, "Wait"))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        service.process.send_signal(signal.SIGKILL)
        service.finish()
        with pytest.raises(Unavailable):
            await waiting
        service = start_scheduler(bus.address, tmp_path)
        try:
            (info,) = await client.call(SCHEDULER, job, JOB, "Wait")
            (again,) = await client.call(SCHEDULER, job, JOB, "Info")
        finally:
            assert service.terminate(STOP_TIMEOUT_S) == 0, service.stderr
    assert info["state"].value == "done"
    assert info["tokens"].value > 0
    assert again["text"].value == info["text"].value


async def test_a_corrupt_job_journal_is_set_aside_and_the_scheduler_starts_empty(
    bus: PrivateBus, tmp_path: Path
) -> None:
    write_catalog(tmp_path / "models.d")
    (tmp_path / "jobs.sqlite3").write_bytes(b"not a database at all" * 200)

    service = start_scheduler(bus.address, tmp_path)
    try:
        async with await Connection.open(bus.address) as client:
            (jobs,) = await client.call(SCHEDULER, "/org/noos/Scheduler1", SCHEDULER, "Jobs")
            request = {"prompt": Variant("s", "Hello"), "max_tokens": Variant("i", 1)}
            (job,) = await client.call(
                SCHEDULER, "/org/noos/Scheduler1", SCHEDULER, "Submit", "a{sv}", [request]
            )
            (info,) = await client.call(SCHEDULER, job, JOB, "Wait")
    finally:
        assert service.terminate(STOP_TIMEOUT_S) == 0, service.stderr
    assert jobs == []
    assert info["state"].value == "done"
    assert len(set_aside_in(tmp_path, "jobs.sqlite3")) == 1
    assert "jobs.sqlite3 is corrupt" in service.stderr


def set_aside_in(directory: Path, name: str) -> list[str]:
    """The names `name` was set aside as in `directory`."""
    return [p.name for p in directory.iterdir() if p.name.startswith(f"{name}.corrupt-")]


def test_a_full_disk_gives_clear_errors_corrupts_nothing_and_recovers(
    bus: PrivateBus, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", size_mib=16) as disk:
        figures = disk_full_campaign(bus.address, disk, shipped_models_tree(), writes=5)

    assert set(figures.before) == {"ok"}
    # Refused before SQLite or chromadb is touched: the disk has no more than the reserve.
    assert set(figures.full) == {"Unavailable"}
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
