"""A fresh edit is indexed while the first crawl's batch, embedded at the
lowest CPU priority on a busy machine, is still under way.

The e2e index tests once failed on a fresh machine for this reason: the
crawl's first batch (the new user's dotfiles, ~11 long chunks) took minutes
in a slow TCG guest at nice 19 next to the scheduler's work, and the file the
test wrote waited behind it for the index's writer lock, never found in 15
minutes. Here the machine is made busy by CPU hogs at normal priority, and
the crawl's batch is long prose: the file written after the crawl began must
be found while that batch is still in hand.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from noos import Index
from noos.bus import Connection
from tests.fixtures.index import running_index

# The crawl's first batch: 16 files (its batch size) of long prose, ~40 chunks
# each of 1,500 characters, all different: ~7 s of embedding on one quiet core
# here, minutes at nice 19 beside the hogs.
BULK_FILES = 16
BULK_BYTES = 60_000
HOG_S = 300
FOUND_WITHIN_S = 90.0
WORDS = (
    "river",
    "stone",
    "lantern",
    "harbour",
    "meadow",
    "copper",
    "violet",
    "thunder",
    "orchard",
    "saddle",
    "glacier",
    "ember",
    "quarry",
    "falcon",
    "tapestry",
    "cobalt",
    "willow",
    "anchor",
    "prairie",
    "beacon",
    "marble",
    "cinder",
    "juniper",
    "compass",
    "bramble",
    "tundra",
    "sparrow",
    "lattice",
    "canyon",
    "ferry",
)


def prose(seed: int, size: int) -> str:
    pick = random.Random(seed).choice
    lines = []
    while sum(len(line) for line in lines) < size:
        lines.append(" ".join(pick(WORDS) for _ in range(14)) + ".")
        if len(lines) % 6 == 0:
            lines.append("")
    return "\n".join(lines)


@pytest.fixture
def tree() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="noos-index-priority-"))
    base.chmod(0o755)
    for number in range(BULK_FILES):
        path = base / "home/bulk" / f"part-{number:02}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(prose(number, BULK_BYTES))
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def cpu_hogs() -> Iterator[None]:
    """A busy loop at normal priority on every core, for HOG_S at most."""
    loop = f"import time\nend = time.time() + {HOG_S}\nwhile time.time() < end: pass\n"
    hogs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(os.cpu_count() or 2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


async def crawler_state(connection: Connection) -> tuple[bool, int]:
    """(busy, completed) of the index's crawler, as org.noos.Service1.Health says."""
    loops = await connection.get_property(
        "org.noos.Index1", "/org/noos/Index1", "org.noos.Service1", "Health"
    )
    crawler = next(loop for loop in loops if loop[0] == "index-crawler")
    return crawler[1], crawler[4]


@pytest.fixture
async def service(
    bus_address: str, tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[None]:
    with running_index(bus_address, tmp_path_factory.mktemp("state"), tree / "home"):
        yield


@pytest.mark.timeout(HOG_S)
async def test_a_fresh_edit_overtakes_a_slow_crawl_batch(
    service: None, connection: Connection, tree: Path, cpu_hogs: None
) -> None:
    index = Index(connection)
    deadline = time.monotonic() + 60
    while (await crawler_state(connection))[0] is False:  # the first batch in hand
        assert time.monotonic() < deadline, "the crawl never began"
        await asyncio.sleep(0.1)

    note = tree / "home/notes/kiln.md"
    note.parent.mkdir()
    written = time.monotonic()
    note.write_text("# Kiln\n\nThe glaze firing peaks at 1240 degrees for stoneware.\n")
    while True:
        hits = await index.search("what temperature does the stoneware glaze firing reach", 5)
        if any(hit.path == str(note) for hit in hits):
            break
        assert time.monotonic() - written < FOUND_WITHIN_S, "the fresh edit was not indexed"
        await asyncio.sleep(0.2)
    busy, completed = await crawler_state(connection)
    # Found while the crawl's first batch was still being embedded: it did not wait for it.
    assert busy and completed == 0, (busy, completed)
