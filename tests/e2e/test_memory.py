"""org.noos.Memory1 in the booted image: as a user would use it, through busctl."""

from __future__ import annotations

import json
import shlex
import time

import pytest

from noos_qemu import Machine

from .conftest import measure

pytestmark = pytest.mark.e2e

# Under TCG the first call waits for the store to open (torch, chromadb, model).
BUSCTL = (
    "busctl --timeout=900 --json=short call org.noos.Memory1 /org/noos/Memory1 org.noos.Memory1"
)
FACT = "the spare key for the shed hangs behind the calendar"


def as_user(command: str) -> str:
    return f"runuser -u user -- {command}"


def remember(machine: Machine, text: str, user: bool = True) -> str:
    command = f"{BUSCTL} Remember 'ssa{{sv}}a{{sv}}' '{text}' note 0 0"
    reply = json.loads(machine.succeed(as_user(command) if user else command, timeout=900))
    return str(reply["data"][0])


def recall_ids(machine: Machine, query: str, user: bool = True) -> list[str]:
    command = f"{BUSCTL} Recall 'sua{{sv}}' '{query}' 10 0"
    reply = json.loads(machine.succeed(as_user(command) if user else command, timeout=900))
    return [hit[1] for hit in reply["data"][0]]


def test_a_user_remembers_and_recalls_over_busctl(machine: Machine) -> None:
    started = time.monotonic()
    memory_id = remember(machine, FACT)
    measure("memory: first Remember, incl. opening the store (s)", time.monotonic() - started)
    machine.wait_for_unit("noosd@memory.service", timeout=60)
    started = time.monotonic()
    assert recall_ids(machine, "where is the key for the shed?")[0] == memory_id
    measure("memory: Recall over busctl, warm (s)", time.monotonic() - started)
    # Root, acting normally, neither sees nor reaches the user's memory.
    assert memory_id not in recall_ids(machine, "where is the key for the shed?", user=False)
    denied = machine.fail(f"{BUSCTL} Get 'sa{{sv}}' {memory_id} 0")
    assert f"no memory {memory_id}" in denied  # org.noos.Error.NotFound's message


def test_memories_survive_kill_9_of_the_service(machine: Machine) -> None:
    memory_id = remember(machine, "the printer on the second floor needs A4 paper")
    machine.succeed("systemctl kill --signal=KILL noosd@memory.service")
    machine.wait_until_succeeds(
        "systemctl show -p NRestarts --value noosd@memory.service | grep -qv '^0$'", timeout=300
    )
    got = json.loads(
        machine.succeed(as_user(f"{BUSCTL} Get 'sa{{sv}}' {memory_id} 0"), timeout=900)
    )
    assert got["data"][0][1] == "the printer on the second floor needs A4 paper"


def test_the_noos_cli_remembers_and_recalls(machine: Machine) -> None:
    machine.succeed(as_user("noos memory remember --kind note 'the dentist is on Thursday at 9'"))
    out = machine.succeed(as_user("noos memory recall 'when is the dentist?'"), timeout=900)
    assert "the dentist is on Thursday at 9" in out.splitlines()[0]
    assert "hot_count" in machine.succeed(as_user("noos memory stats"))


def test_recall_finds_by_a_rare_word_and_by_meaning(machine: Machine) -> None:
    """Hybrid recall: a number the embedding blurs is found by its word (MiniLM
    alone ranks the door code and the parking permit above the locker for
    "what is 4471?"), and a paraphrase that shares no word by its meaning."""
    locker = remember(machine, "the locker at the gym is number 4471")
    for text in (
        "the office door code is 2280",
        "the parking permit number is 55-2210",
        "the bike lock code is 9182",
        "Dr. Okonkwo moved my physiotherapy session to Thursday",
    ):
        remember(machine, text)
    boiler = remember(machine, "the boiler engineer Wojciechowski comes on Friday morning")

    assert recall_ids(machine, "what is 4471?")[0] == locker
    assert recall_ids(machine, "Wojciechowski")[0] == boiler
    assert recall_ids(machine, "when is the heating being repaired?")[0] == boiler
    # A query of function words alone has nothing to search for: refused, by
    # org.noos.Error.InvalidArgument's message (busctl shows the message).
    refused = machine.fail(as_user(f"{BUSCTL} Recall 'sua{{sv}}' 'what is it?' 10 0"))
    assert "no word to search for" in refused


def test_the_memory_unit_is_hardened_with_its_own_state(machine: Machine) -> None:
    shown = machine.succeed(
        "systemctl show noosd@memory.service -p User -p StateDirectory -p ProtectSystem"
    )
    assert "User=noos-memory" in shown
    assert "StateDirectory=noos/memory" in shown
    assert machine.succeed("stat -c '%U %a' /var/lib/noos/memory").strip() == "noos-memory 700"
    assert "org.noos.Memory1.xml" in machine.succeed("ls /usr/share/dbus-1/interfaces/")


# A user's app following its own counts live (the shell's tiers do this), in the
# image's own Python and SDK.
WATCH_STATS = """
import asyncio
import noos

async def main():
    async with await noos.Memory.connect() as memory:
        async with memory.watch_stats() as counts:
            before = await anext(counts)
            await memory.remember("the bins go out on Tuesday night")
            after = await asyncio.wait_for(anext(counts), 900)
            print("counts", before.hot + before.warm, after.hot + after.warm)

asyncio.run(main())
"""


def test_a_users_counts_are_live_and_private(machine: Machine) -> None:
    machine.succeed(f"cat > /tmp/watch_stats.py <<'EOF'\n{WATCH_STATS}\nEOF")
    machine.succeed("chmod 644 /tmp/watch_stats.py")
    # Another user listens to every StatsChanged on the system bus meanwhile.
    machine.succeed(
        "useradd -m eavesdropper 2>/dev/null || true; "
        "(runuser -u eavesdropper -- timeout 1200 dbus-monitor --system "
        "\"type='signal',interface='org.noos.Memory1',member='StatsChanged'\" "
        "> /tmp/eavesdropped 2>&1 &)"
    )
    out = machine.succeed(as_user("/usr/lib/noos/bin/python /tmp/watch_stats.py"), timeout=1200)
    before, after = (int(n) for n in out.split("counts")[1].split())
    assert after == before + 1
    # The monitor listened all along (a failed one would prove nothing).
    machine.succeed("pkill -u eavesdropper -x dbus-monitor")
    heard = machine.succeed("cat /tmp/eavesdropped")
    assert "member=StatsChanged" not in heard, heard


def test_a_bad_memory_toml_fails_the_unit_with_one_clear_journal_line(machine: Machine) -> None:
    unit = "noosd@memory.service"
    settings = "/etc/noos/memory.toml"
    expected = f"noosd: memory: {settings}: half_life_s: expected a number, not a string ('a week')"
    since = machine.succeed("date +%s").strip()
    machine.succeed(f"printf 'half_life_s = \"a week\"\\n' > {settings}")
    try:
        # Type=notify: the restart fails, as noosd exits before READY=1.
        machine.fail(f"systemctl restart {unit}", timeout=600)
        # Exit status 78 is the template's RestartPreventExitStatus=: no restart
        # loop, the unit stays failed.
        machine.wait_until_succeeds(f"systemctl is-failed --quiet {unit}", timeout=120)
        shown = machine.succeed(f"systemctl show -p Result -p ExecMainStatus {unit}")
        assert "Result=exit-code" in shown
        assert "ExecMainStatus=78" in shown
        journal = f"journalctl --no-pager -o cat -u {unit} --since=@{since}"
        machine.wait_until_succeeds(f"{journal} | grep -qxF {shlex.quote(expected)}", timeout=60)
        assert "Traceback" not in machine.succeed(journal)
    finally:
        machine.succeed(f"rm -f {settings}")
        machine.succeed(f"systemctl reset-failed {unit}")
        machine.succeed(f"systemctl restart {unit}", timeout=900)
    machine.wait_for_unit(unit, timeout=300)
    assert machine.succeed(f"systemctl is-active {unit}").strip() == "active"
    # And it serves again (the first call may wait for the store to open).
    remember(machine, "the bins go out on Tuesday evening")


def test_a_user_reads_what_each_option_means_and_every_setting(machine: Machine) -> None:
    # The live object (not only the shipped file) names each a{sv} key's type and meaning.
    introspected = machine.succeed(
        as_user("busctl introspect --xml-interface org.noos.Memory1 /org/noos/Memory1"),
        timeout=900,
    )
    assert (
        '<annotation name="org.noos.Option.since" '
        'value="d: only memories made at or after this Unix time"' in introspected
    )
    assert 'name="org.noos.Field.hot_count"' in introspected
    shipped = machine.succeed("cat /usr/share/dbus-1/interfaces/org.noos.Memory1.xml")
    assert "org.noos.Option.include_superseded" in shipped
    # And an administrator reads every setting, with its file, type and default.
    helped = machine.succeed("noosd memory --help")
    for setting in ("half_life_s", "hot_capacity", "state_dir"):
        assert setting in helped, helped
