"""org.noos.Index1 in the booted image: files found by meaning, as their owner only,
gone when deleted, and a second disk indexed while mounted."""

from __future__ import annotations

import time

import pytest

from noos_qemu import Machine

from .conftest import MEDIUM_FILE, MEDIUM_LABEL, measure
from .services import ServiceWatch

pytestmark = pytest.mark.e2e

# Under TCG the service opens chromadb and loads the model after boot, and every
# `noos` process takes seconds to start.
INDEX_TIMEOUT_S = 600
NOTE = "/home/user/notes/garden.md"
NOTE_TEXT = (
    "# Garden\\n\\nThe tomatoes want water every evening in July; "
    "the basil stays on the kitchen window sill.\\n"
)
QUESTION = "how often should I water the tomato plants"
MEDIUM_MOUNT = "/media/medium"


def as_user(command: str, user: str = "user") -> str:
    return f"runuser -u {user} -- {command}"


def search(query: str, user: str = "user") -> str:
    return as_user(f"noos index search '{query}'", user)


def not_found(query: str, path: str) -> str:
    """A command that succeeds when a search succeeds without returning `path`."""
    return f"{search(query)} > /tmp/search.out && ! grep -F {path} /tmp/search.out"


def test_a_new_file_is_found_by_meaning_by_its_owner_only(machine: Machine) -> None:
    machine.wait_for_unit("noosd@index.service", timeout=INDEX_TIMEOUT_S)
    watch = ServiceWatch(machine, ["index"])
    machine.succeed("id other || useradd --create-home --uid 1001 other")
    machine.succeed(as_user(f"mkdir -p {NOTE.rsplit('/', 1)[0]}"))
    started = time.monotonic()
    machine.succeed(as_user(f"sh -c 'printf \"{NOTE_TEXT}\" > {NOTE} && chmod 600 {NOTE}'"))

    machine.wait_until_succeeds(
        f"{search(QUESTION)} | grep -F {NOTE}", timeout=INDEX_TIMEOUT_S, watch=watch
    )
    measure(
        "index: write to found by `noos index search`, first file (s)", time.monotonic() - started
    )
    # Another user, and root acting normally, may not open it: never returned.
    assert NOTE not in machine.succeed(search(QUESTION, "other"), timeout=INDEX_TIMEOUT_S)
    assert "files" in machine.succeed(as_user("noos index status"), timeout=INDEX_TIMEOUT_S)

    # Once the service is warm: a second file, timed from its write.
    second = "/home/user/notes/bread.md"
    started = time.monotonic()
    machine.succeed(as_user(f"sh -c 'echo Sourdough wants a long cold proof overnight > {second}'"))
    machine.wait_until_succeeds(
        f"{search('how long should the bread dough rest')} | grep -F {second}",
        timeout=INDEX_TIMEOUT_S,
        watch=watch,
    )
    measure("index: write to found by `noos index search`, warm (s)", time.monotonic() - started)

    machine.succeed(f"rm {NOTE}")
    machine.wait_until_succeeds(not_found(QUESTION, NOTE), timeout=INDEX_TIMEOUT_S, watch=watch)


def test_a_second_disk_is_indexed_while_mounted_and_hidden_after(machine: Machine) -> None:
    machine.wait_for_unit("noosd@index.service", timeout=INDEX_TIMEOUT_S)
    watch = ServiceWatch(machine, ["index"])
    found = f"{MEDIUM_MOUNT}/{MEDIUM_FILE}"
    question = "what to pack for the trip to Lisbon"
    machine.succeed(f"test -b /dev/disk/by-label/{MEDIUM_LABEL}")
    machine.succeed(f"mkdir -p {MEDIUM_MOUNT}")

    machine.succeed(f"mount -o ro /dev/disk/by-label/{MEDIUM_LABEL} {MEDIUM_MOUNT}")
    machine.wait_until_succeeds(
        f"{search(question)} | grep -F {found}", timeout=INDEX_TIMEOUT_S, watch=watch
    )

    machine.succeed(f"umount {MEDIUM_MOUNT}")
    machine.wait_until_succeeds(not_found(question, found), timeout=INDEX_TIMEOUT_S, watch=watch)

    # Hidden, not forgotten: back as soon as the disk is mounted again.
    machine.succeed(f"mount -o ro /dev/disk/by-label/{MEDIUM_LABEL} {MEDIUM_MOUNT}")
    machine.wait_until_succeeds(
        f"{search(question)} | grep -F {found}", timeout=INDEX_TIMEOUT_S, watch=watch
    )
    machine.succeed(f"umount {MEDIUM_MOUNT}")


def test_the_index_unit_reads_homes_and_writes_only_its_state(machine: Machine) -> None:
    shown = machine.succeed(
        "systemctl show noosd@index.service -p User -p ProtectHome -p BindReadOnlyPaths"
        " -p CapabilityBoundingSet"
    )
    assert "User=noos-index" in shown
    # Of the homes, /home alone, read-only: /root and /run/user stay behind a tmpfs.
    assert "ProtectHome=tmpfs" in shown
    assert "BindReadOnlyPaths=/home" in shown
    assert "cap_dac_read_search" in shown.lower()
    assert "org.noos.Index1.xml" in machine.succeed("ls /usr/share/dbus-1/interfaces/")


# Files the long crawl reads: 16 (one crawl batch) of ~6 KB of distinct prose,
# ~64 long chunks, embedded at nice 19: minutes under TCG.
BULK = "/home/user/bulk"
MAKE_BULK = (
    "import random\n"
    "words = 'river stone lantern harbour meadow copper violet thunder orchard saddle "
    "glacier ember quarry falcon tapestry cobalt willow anchor prairie beacon'.split()\n"
    "for n in range(16):\n"
    "    pick = random.Random(n).choice\n"
    "    lines = [' '.join(pick(words) for _ in range(14)) + '.' for _ in range(60)]\n"
    f"    open(f'{BULK}/part-{{n:02}}.txt', 'w').write('\\n'.join(lines))\n"
)
CRAWLER_BUSY = (
    "busctl --json=short get-property org.noos.Index1 /org/noos/Index1 org.noos.Service1 Health"
    " | grep -q '\"index-crawler\",true'"
)


def test_a_file_written_during_a_long_crawl_is_found_before_the_crawl_ends(
    machine: Machine,
) -> None:
    """What failed on a fresh machine: a file written while the crawl embedded
    a batch (the new user's dotfiles) waited behind it for the whole batch."""
    # Written while the service is down, as before a boot: its first crawl
    # finds them, and the watcher does not.
    machine.succeed("systemctl stop noosd@index.service", timeout=300)
    machine.succeed(as_user(f"mkdir -p {BULK} /home/user/notes"))
    script = MAKE_BULK.replace("'", "'\\''")
    machine.succeed(as_user(f"python3 -c '{script}'"))
    machine.succeed("systemctl start noosd@index.service", timeout=300)
    machine.wait_for_unit("noosd@index.service", timeout=INDEX_TIMEOUT_S)
    watch = ServiceWatch(machine, ["index"])
    machine.wait_until_succeeds(CRAWLER_BUSY, timeout=300, watch=watch)

    note = "/home/user/notes/kiln.md"
    started = time.monotonic()
    machine.succeed(
        as_user(f"sh -c 'echo The glaze firing peaks at 1240 degrees for stoneware > {note}'")
    )
    machine.wait_until_succeeds(
        f"{search('what temperature does the stoneware glaze firing reach')} | grep -F {note}",
        timeout=300,
        watch=watch,
    )
    measure("index: write to found while a crawl batch is embedded (s)", time.monotonic() - started)
    busy = machine.execute(CRAWLER_BUSY)[0] == 0
    measure("index: the crawl's batch still in hand when the file was found (1 = yes)", busy)

    # Stopping interrupts the batch in hand: the restart is prompt, the crawl
    # resumes from its checkpoint and finds the bulk gone.
    machine.succeed(f"rm -rf {BULK} {note}")
    started = time.monotonic()
    machine.succeed("systemctl restart noosd@index.service", timeout=300)
    measure("index: restart with a crawl batch in hand (s)", time.monotonic() - started)
    machine.wait_for_unit("noosd@index.service", timeout=INDEX_TIMEOUT_S)
