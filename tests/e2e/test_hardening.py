"""The noos units' bounds in the booted image, and a user's attempt to fill a
service's descriptor table by sending it file descriptors."""

from __future__ import annotations

import base64
import textwrap

import pytest

from noos_qemu import Machine

pytestmark = pytest.mark.e2e

SERVICES = ("index", "memory", "scheduler", "system")
SYSTEM_UNIT = "noosd@system.service"
PYTHON = "/usr/lib/noos/bin/python"
ATTACK_CALLS = 200
# What a service may open lazily besides (a log, a cache, a bus connection).
SLACK = 5

# Run as `user`: System1.Ping, ATTACK_CALLS times, each carrying the read end
# of a new pipe. Ping takes none, so the service refuses each call before it
# runs, and closes the descriptor; the same call naming no interface (D-Bus
# allows that) is answered, and its descriptor closed once it is.
SEND_FDS = textwrap.dedent(
    f"""
    import asyncio, os
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    async def main():
        bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
        for _ in range({ATTACK_CALLS}):
            for interface, expected in [("org.noos.System1", None), (None, ["pong"])]:
                reader, writer = os.pipe()
                reply = await bus.call(Message(
                    destination="org.noos.System1", path="/org/noos/System1",
                    interface=interface, member="Ping", unix_fds=[reader]))
                os.close(reader)
                os.close(writer)
                if expected is None:
                    assert reply.error_name == "org.noos.Error.InvalidArgument", reply.body
                else:
                    assert reply.body == expected, reply.body
        bus.disconnect()
        print("sent", {ATTACK_CALLS})

    asyncio.run(main())
    """
)


def as_user(command: str) -> str:
    return f"runuser -u user -- {command}"


def shown(machine: Machine, unit: str, *properties: str) -> dict[str, str]:
    flags = " ".join(f"-p {name}" for name in properties)
    output = machine.succeed(f"systemctl show {flags} {unit}")
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def open_fds(machine: Machine, pid: str) -> int:
    return int(machine.succeed(f"ls /proc/{pid}/fd | wc -l").strip())


@pytest.mark.parametrize("service", SERVICES)
def test_each_unit_is_bounded_and_restarts_after_a_crash_loop(
    machine: Machine, service: str
) -> None:
    unit = shown(
        machine,
        f"noosd@{service}.service",
        "LimitNOFILE",
        "TasksMax",
        "MemoryMax",
        "PrivateNetwork",
        "IPAddressDeny",
        "Restart",
        "StartLimitBurst",
    )
    assert unit["LimitNOFILE"] == "4096"
    assert unit["TasksMax"].isdigit()
    assert unit["MemoryMax"].isdigit()  # "infinity" when unset
    assert unit["Restart"] == "on-failure"
    assert int(unit["StartLimitBurst"]) >= 15
    if service == "scheduler":
        assert unit["PrivateNetwork"] == "no"
        assert unit["IPAddressDeny"] == ""
    else:
        assert unit["IPAddressDeny"] != ""
        assert unit["PrivateNetwork"] == "yes"


def test_the_index_reads_homes_but_no_other_daemons_state_or_logs(machine: Machine) -> None:
    # Started (D-Bus activation), so that its mount namespace exists; then
    # looked at from inside it, as root: what is not mounted there, no
    # capability reaches.
    machine.succeed("busctl get-property org.noos.Index1 /org/noos/Index1 org.noos.Service1 Health")
    pid = machine.succeed("systemctl show -p MainPID --value noosd@index.service").strip()
    inside = f"nsenter -t {pid} -m "
    machine.succeed(inside + "test -d /home/user")
    machine.succeed(inside + "test -d /var/lib/noos/index")
    for hidden in ("/var/lib/systemd", "/var/lib/noos/memory", "/var/log/journal"):
        machine.fail(inside + f"test -e {hidden}/.")


def test_descriptors_a_user_sends_with_calls_do_not_pile_up_in_the_service(
    machine: Machine,
) -> None:
    # Started (D-Bus activation) and settled before the count.
    machine.succeed("busctl call org.noos.System1 /org/noos/System1 org.noos.System1 Ping")
    pid = shown(machine, SYSTEM_UNIT, "MainPID")["MainPID"]
    assert pid != "0"
    before = open_fds(machine, pid)
    script = base64.b64encode(SEND_FDS.encode()).decode()
    machine.succeed(f"echo {script} | base64 -d > /tmp/noos-send-fds.py")
    machine.succeed("chmod 644 /tmp/noos-send-fds.py")

    out = machine.succeed(as_user(f"{PYTHON} /tmp/noos-send-fds.py"), timeout=600)

    assert f"sent {ATTACK_CALLS}" in out
    # The same process (no crash, no restart), its descriptors back to before.
    assert shown(machine, SYSTEM_UNIT, "MainPID")["MainPID"] == pid
    assert open_fds(machine, pid) <= before + SLACK
