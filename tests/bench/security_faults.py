"""security_faults: the fault campaign of tests/security/test_faults.py, longer.

Four users write 200 memories each to `noosd memory` on a private bus while
the service is killed with SIGKILL every 1 to 3 s and started again; likewise
100 files each, indexed by `IndexFile`, while `noosd index` is killed; 50
tiny jobs each (SmolLM2, 2 tokens) submitted to `noosd scheduler` while it is
killed, every acknowledged job then waited for; then the same users write
memories while the memory service's state disk (a 16 MiB loop-mounted ext4,
each user's chromadb in use) is full, and after space returns. Prints, for
the kills: writes acknowledged, lost (goal 0), duplicated (goal 0), kills,
and the recovery time (kill to the first call answered) against a clean
start of the service measured in the same run; for the full disk: the
outcomes by kind in each phase, corruption found (goal 0), writes lost
(goal 0), and whether every write succeeded once space returned.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tests.fixtures.loopfs import small_disk
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.scheduler import write_catalog
from tests.security.faults import (
    KillFigures,
    disk_full_campaign,
    index_kill_campaign,
    index_serving,
    kill_campaign,
    scheduler_kill_campaign,
    scheduler_serving,
    serving,
)

WRITES_PER_USER = 200
INDEX_WRITES_PER_USER = 100
# 200 concurrent submits in all, as the issue asks; a Submit answers in
# milliseconds, so the pause after each makes the campaign last for kills.
JOBS_PER_USER = 50
SUBMIT_PAUSE_S = 0.25
# After each write: the campaign lasts long enough for several kills.
PAUSE_S = 0.05
KILL_EVERY_S = (1.0, 3.0)
DISK_FULL_WRITES = 20
DISK_MIB = 16


def goal(met: bool) -> str:
    return "met" if met else "NOT MET"


def print_kills(title: str, kills: KillFigures, clean_start_s: float) -> None:
    recovery = statistics.median(kills.recoveries_s) if kills.recoveries_s else float("nan")
    print(title)
    print(f"  writes acknowledged          {kills.acknowledged:8d}")
    print(f"  writes failed (by kind)      {dict(kills.failed)}")
    print(f"  acknowledged writes lost     {len(kills.lost):8d}   goal 0: {goal(not kills.lost)}")
    dup = len(kills.duplicates)
    print(f"  stored twice                 {dup:8d}   goal 0: {goal(not dup)}")
    print(f"  kills                        {kills.kills:8d}")
    print(
        f"  recovery, kill to answering  {recovery:8.2f} s  (median; clean start "
        f"{clean_start_s:.2f} s: x{recovery / clean_start_s:.2f})"
    )


def main() -> None:
    models = shipped_models_tree()
    bus = PrivateBus()
    try:
        with tempfile.TemporaryDirectory(prefix="noos-faults-") as work:
            started = time.monotonic()
            serving(bus.address, Path(work) / "clean", models).terminate()
            clean_start_s = time.monotonic() - started
            kills = kill_campaign(
                bus.address,
                Path(work) / "killed",
                models,
                writes_per_user=WRITES_PER_USER,
                pause_s=PAUSE_S,
                kill_every_s=KILL_EVERY_S,
            )
            homes = Path(work) / "empty-homes"
            homes.mkdir()
            started = time.monotonic()
            index_serving(bus.address, Path(work) / "clean-index", homes).terminate()
            index_clean_start_s = time.monotonic() - started
            index_kills = index_kill_campaign(
                bus.address,
                Path(work),
                writes_per_user=INDEX_WRITES_PER_USER,
                pause_s=PAUSE_S,
                kill_every_s=KILL_EVERY_S,
            )
            clean_scheduler = Path(work) / "clean-scheduler"
            write_catalog(clean_scheduler / "models.d")
            started = time.monotonic()
            scheduler_serving(bus.address, clean_scheduler).terminate()
            scheduler_clean_start_s = time.monotonic() - started
            scheduler_kills = scheduler_kill_campaign(
                bus.address,
                Path(work) / "scheduler",
                jobs_per_user=JOBS_PER_USER,
                pause_s=SUBMIT_PAUSE_S,
                kill_every_s=KILL_EVERY_S,
            )
            with small_disk(Path(work) / "disk", size_mib=DISK_MIB) as disk:
                full = disk_full_campaign(bus.address, disk, models, writes=DISK_FULL_WRITES)
    finally:
        bus.stop()
    print_kills("memory service, kill -9 during 4 users' Remember calls:", kills, clean_start_s)
    print_kills(
        "index service, kill -9 during 4 users' file writes and IndexFile calls:",
        index_kills,
        index_clean_start_s,
    )
    print_kills(
        "scheduler, kill -9 during 4 users' Submit calls (acknowledged: done once after):",
        scheduler_kills,
        scheduler_clean_start_s,
    )
    print(f"memory service, state on a full {DISK_MIB} MiB disk:")
    print(f"  before it filled             {dict(full.before)}")
    print(f"  while full                   {dict(full.full)}")
    print(f"  after space returned         {dict(full.after)}")
    corrupt = len(full.corrupt)
    print(f"  corrupt databases            {corrupt:8d}   goal 0: {goal(not corrupt)}")
    print(f"  acknowledged writes lost     {len(full.lost):8d}   goal 0: {goal(not full.lost)}")
    recovered = set(full.after) == {"ok"}
    print(f"  every write ok after         {recovered!s:>8}   goal True: {goal(recovered)}")


if __name__ == "__main__":
    main()
