"""Another user's directories against the index's inotify watches, on a
private bus with the real service: each watch is charged to its directory's
owner, so a user who makes directories by the hundred takes only their own
budget, the victim's new directory is still watched (its file indexed at
once), and the attacker's directories past their budget are rescanned."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos import Index
from noos.bus import Connection
from tests.fixtures import mkdirs_as
from tests.fixtures.index import running_index
from tests.integration.index.test_index import NOBODY, eventually, found, write

# Lowered, so that the attack is quick: the attacker makes more than all of it.
WATCHES_PER_USER = 40
MAX_WATCHES = 100
ATTACK_DIRECTORIES = 150
# The victim's file must be found long before the rescan would find it.
RESCAN_S = 3600.0
FRESH_WITHIN_S = 60.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="noos-watches-"))
    base.chmod(0o755)
    (base / "mallory").mkdir()
    os.chown(base / "mallory", NOBODY, NOBODY)
    (base / "victim").mkdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


async def make_directories_as(uid: int, directory: Path, count: int) -> None:
    attacker = await asyncio.create_subprocess_exec(
        sys.executable,
        mkdirs_as.__file__,
        str(uid),
        str(directory),
        str(count),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(attacker.communicate(), timeout=120)
    assert attacker.returncode == 0 and int(stdout) == count


async def test_a_user_making_directories_takes_only_their_own_watches(
    bus_address: str, connection: Connection, home: Path, tmp_path: Path
) -> None:
    index = Index(connection)
    with running_index(
        bus_address,
        tmp_path,
        home,
        settings={
            "NOOS_INDEX_WATCHES_PER_USER": str(WATCHES_PER_USER),
            "NOOS_INDEX_MAX_WATCHES": str(MAX_WATCHES),
            "NOOS_INDEX_UNWATCHED_RESCAN_S": str(RESCAN_S),
        },
    ):
        warm = write(home / "victim/warm.txt", "Warming up the index with a first note.\n")
        await eventually(lambda: found(index, "warming up the index", warm))
        await make_directories_as(NOBODY, home / "mallory", ATTACK_DIRECTORIES)
        # A new directory of the victim's, made after the attack, and a file in it.
        await asyncio.sleep(1.0)  # the watcher has seen the attacker's directories
        letter = write(home / "victim/letters/bank.txt", "Dear bank, my overdraft is paid.\n")
        await eventually(
            lambda: found(index, "overdraft bank letter", letter), within=FRESH_WITHIN_S
        )


async def test_directories_past_their_owners_budget_are_rescanned(
    bus_address: str, connection: Connection, home: Path, tmp_path: Path
) -> None:
    index = Index(connection)
    with running_index(
        bus_address,
        tmp_path,
        home,
        settings={
            "NOOS_INDEX_WATCHES_PER_USER": str(WATCHES_PER_USER),
            "NOOS_INDEX_MAX_WATCHES": str(MAX_WATCHES),
            "NOOS_INDEX_UNWATCHED_RESCAN_S": "1",
        },
    ) as service:
        # Mallory's directories are there from the start (the first test made
        # them): past her budget, some are unwatched from the first walk on.
        assert len(list((home / "mallory").iterdir())) >= ATTACK_DIRECTORIES
        await eventually(
            lambda: found(index, "overdraft bank letter", home / "victim/letters/bank.txt")
        )
        # In every one of her directories, watched or not, a note with a word of its own.
        words = {
            home / f"mallory/d{number}/note.txt": f"juggle{number:03d}quokka"
            for number in range(ATTACK_DIRECTORIES)
        }
        for note, word in words.items():
            note.write_text(f"Mallory's note: {word} practice.\n")
        for note, word in words.items():
            await eventually(lambda note=note, word=word: found(index, word, note, word))
    assert "past its inotify watch budget" in service.stderr
