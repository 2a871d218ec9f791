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

from noos import NoosError, SyncIndex, SyncMemory
from noos.bus import Connection
from noos.protocol.scheduler import job_path
from noosd.index.storage.chroma import DEFAULT_COLLECTION, ChromaIndex
from noosd.index.store import CHROMA_DIR
from noosd.memory.core.codec import unpack_text
from noosd.memory.user import DATABASE_FILE
from noosd.shared.chroma import ChromaError
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


def scheduler_disk_full_campaign(bus_address: str, disk: Path, *, jobs: int) -> DiskFullFigures:
    """The scheduler with its journal (and kv_dir) on `disk`: users submit
    tiny jobs, the disk fills, they submit on, space returns, they submit
    again; then every acknowledged job must be done once (as the kill
    campaign counts), and the journal sound."""
    figures = DiskFullFigures()
    state_dir = disk / "scheduler"
    write_catalog(state_dir / "models.d")
    service = scheduler_serving(bus_address, state_dir, min_free_bytes=str(RESERVE))
    try:
        acknowledged = _phases(
            disk,
            figures,
            lambda uid, phase: write_as(
                uid,
                bus_address,
                f"{phase} {uid}",
                jobs,
                writer=faults_submitter_as.__file__,
                timeout_s=DISK_FULL_WRITER_TIMEOUT_S,
            ),
        )
    finally:
        service.terminate()
    problems = _quick_check(state_dir / "jobs.sqlite3")
    if problems != ["ok"]:
        figures.corrupt.append(f"jobs.sqlite3: {problems}")
    done = _jobs_done(bus_address, state_dir)
    figures.lost = [text for uid, text in acknowledged if done.get(uid, Counter())[text] != 1]
    return figures


def scheduler_serving(bus_address: str, state_dir: Path, **settings: str) -> NoosdProcess:
    """`noosd scheduler` on `state_dir` (its catalog in models.d), with room
    in its queue for every user's burst, and `settings` (see `start_scheduler`)."""
    return start_scheduler(
        bus_address, state_dir, max_queued="1024", max_queued_per_user="256", **settings
    )


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


def index_serving(bus_address: str, state_dir: Path, root: Path, **env: str) -> NoosdProcess:
    """`noosd index` on `root`, once it has answered a search; `env` adds to its
    environment (settings)."""
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
            **env,
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
    """What a disk-full campaign saw: writes before, while and after the disk
    was full (by outcome: "ok", an error's name, or "timeout": a call that
    hung), and what was lost or found corrupt after."""

    before: Counter[str] = field(default_factory=Counter)
    full: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    # Searches while the disk was full (the index's campaign), by outcome.
    searches_full: Counter[str] = field(default_factory=Counter)


# Long enough for a call on a loaded machine, short beside a hang's forever.
DISK_FULL_WRITER_TIMEOUT_S = 120.0


def write_as(
    uid: int,
    bus_address: str,
    tag: str,
    count: int,
    *,
    writer: str = faults_writer_as.__file__,
    timeout_s: float = WRITER_TIMEOUT_S,
) -> list[dict[str, str]]:
    """`count` writes as `uid` by `writer` (faults_writer_as.py, or
    faults_indexer_as.py with `tag` the directory): each one's text and
    outcome; those not answered within `timeout_s` (a hung call) as "timeout"."""
    command = [sys.executable, writer, str(uid), bus_address, tag, str(count), "0"]
    try:
        output = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=True
        ).stdout
    except subprocess.TimeoutExpired as hung:
        output = hung.stdout.decode() if isinstance(hung.stdout, bytes) else hung.stdout or ""
    writes = [json.loads(line) for line in output.splitlines()]
    return writes + [
        {"text": f"{tag} #{n}", "outcome": "timeout"} for n in range(len(writes), count)
    ]


# Settings under which every Remember past a user's second memory writes
# chromadb (the warm tier, no write-behind), and the reserve left free is
# small beside the 16 MiB disk.
RESERVE = 1 << 20
CHROMA_IN_USE = {"hot_capacity": "2", "max_unwritten_warm": "0", "min_free_bytes": str(RESERVE)}
# What the full disk still has free: room for SQLite's commit, not for
# chromadb's write after it (which hangs on a full disk), and under the reserve.
LEFT_FREE = 256 << 10
PHASES = ("before", "full", "after")


def _phases(
    disk: Path,
    figures: DiskFullFigures,
    write: Callable[[int, str], list[dict[str, str]]],
    while_full: Callable[[], None] = lambda: None,
) -> list[tuple[int, str]]:
    """Each user's writes (`write(uid, phase)`) before the disk fills (but for
    LEFT_FREE, under the services' reserve), while it is full (and
    `while_full`), and once space returned; the writes acknowledged, by uid."""
    acknowledged: list[tuple[int, str]] = []
    outcomes = {"before": figures.before, "full": figures.full, "after": figures.after}
    for phase in PHASES:
        if phase == "full":
            filler = fill(disk, leave=LEFT_FREE)
        for uid in USERS:
            for done in write(uid, phase):
                outcomes[phase][done["outcome"]] += 1
                if done["outcome"] == "ok":
                    acknowledged.append((uid, done["text"]))
        if phase == "full":
            while_full()
            filler.unlink()
    return acknowledged


def _quick_check(path: Path) -> list[str]:
    """SQLite's quick_check of the database at `path`: ["ok"] when sound."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute("PRAGMA quick_check")]
    finally:
        db.close()


def disk_full_campaign(
    bus_address: str, disk: Path, models: Path, *, writes: int
) -> DiskFullFigures:
    """The memory service with its state on `disk` (a small file system), each
    user's chromadb in use: users write, the disk fills (but for LEFT_FREE,
    under the service's reserve), they write on, space returns, they write
    again."""
    figures = DiskFullFigures()
    state_dir = disk / "state"
    service = start_memory(bus_address, state_dir, models, **CHROMA_IN_USE)
    try:
        acknowledged = _phases(
            disk,
            figures,
            lambda uid, phase: write_as(
                uid,
                bus_address,
                f"{phase} {uid}",
                writes,
                timeout_s=DISK_FULL_WRITER_TIMEOUT_S,
            ),
        )
    finally:
        service.terminate()
    for uid in USERS:
        problems = _quick_check(state_dir / "users" / str(uid) / DATABASE_FILE)
        if problems != ["ok"]:
            figures.corrupt.append(f"uid {uid}: {problems}")
    stored = {uid: stored_texts(state_dir, uid) for uid in USERS}
    figures.lost = [text for uid, text in acknowledged if stored[uid][text] != 1]
    return figures


# How long the files written while the disk was full may take to be indexed
# once space returned: the watcher's look again (ROOM_RETRY_S) and an
# embedding batch, on a loaded machine.
CATCH_UP_S = 90.0


def index_disk_full_campaign(bus_address: str, disk: Path, *, writes: int) -> DiskFullFigures:
    """The index service with its state on `disk`, the users' homes elsewhere:
    users write and index files of their own, the disk fills, they write and
    index on (and root searches), space returns, they write again; then every
    file written, in any phase, must come to be indexed (the watcher's, once
    there is room), SQLite must be sound and chromadb readable."""
    figures = DiskFullFigures()
    state_dir = disk / "index-state"
    root = Path(tempfile.mkdtemp(prefix="noos-diskfull-homes-"))
    root.chmod(0o755)
    written: list[tuple[int, str]] = []

    def write(uid: int, phase: str) -> list[dict[str, str]]:
        directory = root / str(uid) / phase
        directory.mkdir(parents=True)
        for made in (directory.parent, directory):
            os.chown(made, uid, uid)
        done = write_as(
            uid,
            bus_address,
            str(directory),
            writes,
            writer=faults_indexer_as.__file__,
            timeout_s=DISK_FULL_WRITER_TIMEOUT_S,
        )
        written.extend((uid, str(directory / f"note{n}.txt")) for n in range(writes))
        return done

    def search() -> None:
        try:
            with SyncIndex(bus_address) as index:
                index.search("the boiler was serviced", limit=5)
            figures.searches_full["ok"] += 1
        except NoosError as error:
            figures.searches_full[type(error).__name__] += 1

    def indexed() -> set[tuple[int, str]]:
        db = sqlite3.connect(f"file:{state_dir / 'index.sqlite3'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT uid, path FROM files")
            return {(uid, os.fsdecode(path)) for uid, path in rows}
        finally:
            db.close()

    service = index_serving(bus_address, state_dir, root, NOOS_INDEX_MIN_FREE_BYTES=str(RESERVE))
    try:
        acknowledged = _phases(disk, figures, write, while_full=search)
        deadline = time.monotonic() + CATCH_UP_S
        while not set(written) <= indexed() and time.monotonic() < deadline:
            time.sleep(1.0)
    finally:
        service.terminate()
        shutil.rmtree(root)
    problems = _quick_check(state_dir / "index.sqlite3")
    if problems != ["ok"]:
        figures.corrupt.append(f"index.sqlite3: {problems}")
    try:
        ChromaIndex(state_dir / CHROMA_DIR, None, DEFAULT_COLLECTION).count()
    except ChromaError as error:
        figures.corrupt.append(f"chromadb: {error}")
    found = indexed()
    figures.lost = sorted(
        {path for uid, path in [*acknowledged, *written] if (uid, path) not in found}
    )
    return figures
