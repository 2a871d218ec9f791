"""The fault campaign's harness, shared by tests/security/test_faults.py (quick)
and `make bench security_faults` (longer, with its figures).

The service (memory, index, or scheduler) runs as a real subprocess on a
private bus; four users (uids of the passwd file, through
`faults_writer_as.py`, `faults_indexer_as.py` or `faults_submitter_as.py`)
remember numbered memories, write and index files of their own, or submit
numbered jobs, concurrently while the service is killed with SIGKILL at
random moments and started again, as systemd would. Afterwards the service's
SQLite, the truth, is read directly: a write the service acknowledged must be
there exactly once (a job: done, its prompt in no other job).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from noos import SyncIndex, SyncMemory
from noos.bus import Connection
from noos.protocol.scheduler import job_path
from noosd.memory.core.codec import unpack_text
from noosd.memory.user import DATABASE_FILE
from tests.fixtures import faults_indexer_as, faults_submitter_as, faults_writer_as
from tests.fixtures.loopfs import fill
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.scheduler import start_scheduler, write_catalog

# Users of the machine's own passwd (games, man, lp, nobody): the bus daemon
# refuses a uid it cannot name.
USERS = (5, 6, 7, 65534)
WRITER_TIMEOUT_S = 600.0


@dataclass
class KillFigures:
    """What a kill campaign saw."""

    acknowledged: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    kills: int = 0
    recoveries_s: list[float] = field(default_factory=list)


def serving(bus_address: str, state_dir: Path, models: Path) -> NoosdProcess:
    """The memory service started on `state_dir`, once it has answered a Recall
    (its store open behind the name it owns at READY=1)."""
    service = start_memory(bus_address, state_dir, models)
    with SyncMemory(bus_address) as memory:
        memory.recall("is the store open yet?", limit=1)
    return service


def stored_texts(state_dir: Path, uid: int) -> Counter[str]:
    """How many times each text is stored for a user, read from SQLite itself."""
    path = state_dir / "users" / str(uid) / DATABASE_FILE
    if not path.exists():
        return Counter()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT text, text_zlib FROM memories")
        return Counter(unpack_text(text, bool(compressed)) for text, compressed in rows)
    finally:
        db.close()


def kill_campaign(
    bus_address: str,
    state_dir: Path,
    models: Path,
    *,
    writes_per_user: int,
    pause_s: float,
    kill_every_s: tuple[float, float],
    seed: int = 14,
) -> KillFigures:
    """Four users remember, pausing `pause_s` after each write (the campaign then
    lasts long enough for its kills, however fast the machine), while the memory
    service is killed (-9) and restarted."""
    writers = [
        [
            faults_writer_as.__file__,
            str(uid),
            bus_address,
            f"user {uid}",
            str(writes_per_user),
            str(pause_s),
        ]
        for uid in USERS
    ]
    return _kill_loop(
        lambda: serving(bus_address, state_dir, models),
        writers,
        lambda uid: stored_texts(state_dir, uid),
        kill_every_s,
        seed,
    )


def index_kill_campaign(
    bus_address: str,
    work: Path,
    *,
    writes_per_user: int,
    pause_s: float,
    kill_every_s: tuple[float, float],
    seed: int = 14,
) -> KillFigures:
    """Four users write and index files of their own (pausing as in
    `kill_campaign`) while the index service is killed (-9) and restarted; an
    acknowledged `IndexFile` must be in its SQLite."""
    # Out of pytest's 0700 tmp directories: each user must reach their own home.
    root = Path(tempfile.mkdtemp(prefix="noos-faults-homes-"))
    root.chmod(0o755)
    state_dir = work / "index-state"
    writers = []
    for uid in USERS:
        home = root / str(uid)
        home.mkdir()
        os.chown(home, uid, uid)
        writers.append(
            [
                faults_indexer_as.__file__,
                str(uid),
                bus_address,
                str(home),
                str(writes_per_user),
                str(pause_s),
            ]
        )

    def indexed(uid: int) -> Counter[str]:
        path = state_dir / "index.sqlite3"
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT path FROM files WHERE uid = ?", (uid,))
            return Counter(os.fsdecode(row[0]) for row in rows)
        finally:
            db.close()

    try:
        return _kill_loop(
            lambda: index_serving(bus_address, state_dir, root),
            writers,
            indexed,
            kill_every_s,
            seed,
        )
    finally:
        shutil.rmtree(root)


def scheduler_kill_campaign(
    bus_address: str,
    state_dir: Path,
    *,
    jobs_per_user: int,
    pause_s: float,
    kill_every_s: tuple[float, float],
    seed: int = 14,
) -> KillFigures:
    """Four users submit tiny jobs of the real SmolLM2 (pausing as in
    `kill_campaign`) while the scheduler is killed (-9) and restarted; then,
    once it runs again, every job of its journal is waited for as root: an
    acknowledged job must be there, done, and its prompt in no other job."""
    write_catalog(state_dir / "models.d")
    writers = [
        [
            faults_submitter_as.__file__,
            str(uid),
            bus_address,
            f"user {uid}",
            str(jobs_per_user),
            str(pause_s),
        ]
        for uid in USERS
    ]
    done: dict[int, Counter[str]] = {}

    def done_of(uid: int) -> Counter[str]:
        if not done:
            done.update(_jobs_done(bus_address, state_dir))
        return done.get(uid, Counter())

    return _kill_loop(
        lambda: scheduler_serving(bus_address, state_dir),
        writers,
        done_of,
        kill_every_s,
        seed,
    )


def scheduler_serving(bus_address: str, state_dir: Path) -> NoosdProcess:
    """`noosd scheduler` on `state_dir` (its catalog in models.d), with room
    in its queue for every user's burst."""
    return start_scheduler(bus_address, state_dir, max_queued="1024", max_queued_per_user="256")


def _jobs_done(bus_address: str, state_dir: Path) -> dict[int, Counter[str]]:
    """By owner, how many jobs of each prompt the scheduler's journal holds that
    end done, once the scheduler started again has run them."""
    db = sqlite3.connect(f"file:{state_dir / 'jobs.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT job, owner, request FROM jobs").fetchall()
    finally:
        db.close()

    async def wait_all() -> dict[int, Counter[str]]:
        found: dict[int, Counter[str]] = {}
        async with await Connection.open(bus_address) as bus:
            for job, owner, request in rows:
                path = job_path(job % 2**64)
                (info,) = await bus.call(
                    "org.noos.Scheduler1", path, "org.noos.Scheduler1.Job", "Wait"
                )
                if info["state"].value == "done":
                    found.setdefault(owner, Counter())[json.loads(request)["text"]] += 1
        return found

    service = scheduler_serving(bus_address, state_dir)
    try:
        return asyncio.run(wait_all())
    finally:
        service.terminate()


def index_serving(bus_address: str, state_dir: Path, root: Path) -> NoosdProcess:
    """`noosd index` on `root`, once it has answered a search."""
    service = NoosdProcess(
        "index",
        "--bus",
        bus_address,
        env={
            "NOOS_INDEX_STATE_DIR": str(state_dir),
            "NOOS_INDEX_ROOTS": str(root),
            "NOOS_INDEX_MEDIA_DIRS": "",
            "NOOS_MODELS_DIR": str(shipped_models_tree()),
            "HF_HUB_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
        },
    ).wait_ready()
    with SyncIndex(bus_address) as index:
        index.search("is the index open yet?", limit=1)
    return service


def _kill_loop(
    start: Callable[[], NoosdProcess],
    writers: list[list[str]],
    stored: Callable[[int], Counter[str]],
    kill_every_s: tuple[float, float],
    seed: int,
) -> KillFigures:
    """Run the writers (one per user of USERS) while the service `start` makes
    is killed at random moments and started again; then count, in what
    `stored` reads for each user, the acknowledged writes lost and duplicated."""
    chance = random.Random(seed)
    figures = KillFigures()
    service = start()
    running = [
        subprocess.Popen([sys.executable, *command], stdout=subprocess.PIPE, text=True)
        for command in writers
    ]
    try:
        while any(writer.poll() is None for writer in running):
            time.sleep(chance.uniform(*kill_every_s))
            if all(writer.poll() is not None for writer in running):
                break
            service.process.send_signal(signal.SIGKILL)
            service.finish()
            figures.kills += 1
            killed_at = time.monotonic()
            service = start()
            figures.recoveries_s.append(time.monotonic() - killed_at)
        outputs = [writer.communicate(timeout=WRITER_TIMEOUT_S)[0] for writer in running]
    finally:
        for writer in running:
            if writer.poll() is None:
                writer.kill()
        service.terminate()
    for uid, output, writer in zip(USERS, outputs, running, strict=True):
        assert writer.returncode == 0, f"the writer of uid {uid} failed"
        found = stored(uid)
        figures.duplicates += [text for text, count in found.items() if count > 1]
        for line in output.splitlines():
            write = json.loads(line)
            if write["outcome"] == "ok":
                figures.acknowledged += 1
                if not found[write["text"]]:
                    figures.lost.append(write["text"])
            else:
                figures.failed[write["outcome"]] += 1
    return figures


@dataclass
class DiskFullFigures:
    """What a disk-full campaign saw: writes before, while and after the disk was full."""

    before: Counter[str] = field(default_factory=Counter)
    full: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)


def write_as(uid: int, bus_address: str, tag: str, count: int) -> list[dict[str, str]]:
    """`count` writes as `uid` (see faults_writer_as.py): each one's text and outcome."""
    writer = subprocess.run(
        [sys.executable, faults_writer_as.__file__, str(uid), bus_address, tag, str(count), "0"],
        capture_output=True,
        text=True,
        timeout=WRITER_TIMEOUT_S,
        check=True,
    )
    return [json.loads(line) for line in writer.stdout.splitlines()]


# Settings under which every Remember past a user's second memory writes
# chromadb (the warm tier, no write-behind), and the reserve left free is
# small beside the 16 MiB disk.
RESERVE = 1 << 20
CHROMA_IN_USE = {"hot_capacity": "2", "max_unwritten_warm": "0", "min_free_bytes": str(RESERVE)}
# What the full disk still has free: room for SQLite's commit, not for
# chromadb's write after it (which hangs on a full disk), and under the reserve.
LEFT_FREE = 256 << 10


def disk_full_campaign(
    bus_address: str, disk: Path, models: Path, *, writes: int
) -> DiskFullFigures:
    """The memory service with its state on `disk` (a small file system), each
    user's chromadb in use: users write, the disk fills (but for LEFT_FREE,
    under the service's reserve), they write on, space returns, they write
    again."""
    figures = DiskFullFigures()
    acknowledged: list[tuple[int, str]] = []
    state_dir = disk / "state"
    service = start_memory(bus_address, state_dir, models, **CHROMA_IN_USE)
    try:
        for phase, outcomes in (("before", figures.before), ("full", figures.full)):
            if phase == "full":
                filler = fill(disk, leave=LEFT_FREE)
            for uid in USERS:
                for write in write_as(uid, bus_address, f"{phase} {uid}", writes):
                    outcomes[write["outcome"]] += 1
                    if write["outcome"] == "ok":
                        acknowledged.append((uid, write["text"]))
        filler.unlink()
        for uid in USERS:
            for write in write_as(uid, bus_address, f"after {uid}", writes):
                figures.after[write["outcome"]] += 1
                if write["outcome"] == "ok":
                    acknowledged.append((uid, write["text"]))
    finally:
        service.terminate()
    for uid in USERS:
        path = state_dir / "users" / str(uid) / DATABASE_FILE
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        finally:
            db.close()
        if problems != ["ok"]:
            figures.corrupt.append(f"uid {uid}: {problems}")
    stored = {uid: stored_texts(state_dir, uid) for uid in USERS}
    figures.lost = [text for uid, text in acknowledged if stored[uid][text] != 1]
    return figures
