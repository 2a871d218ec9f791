"""`noosd` as systemd runs it: start-up, sd_notify, name ownership, signals."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from noosd.runtime.registry import load_service, registered_services
from tests.fixtures.noosd_process import NOOSD, NoosdProcess
from tests.fixtures.private_bus import PrivateBus, name_has_owner


def run_noosd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NOOSD), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_list_names_the_registered_services() -> None:
    listed = run_noosd("--list")
    assert listed.returncode == 0
    assert "system\tnoosd.system.service:SystemService" in listed.stdout.splitlines()


def test_an_unknown_service_is_a_usage_error() -> None:
    result = run_noosd("nonesuch", "--bus", "unix:path=/nonexistent")
    assert result.returncode == 2
    assert "no service named 'nonesuch' (registered: " in result.stderr


def test_it_tells_systemd_it_is_ready_with_a_status(noosd_system: NoosdProcess) -> None:
    assert "READY=1" in noosd_system.notifications
    assert "STATUS=serving org.noos.System1" in noosd_system.notifications


def test_it_pings_the_watchdog_when_systemd_asks(bus_address: str) -> None:
    noosd = NoosdProcess("system", "--bus", bus_address, env={"WATCHDOG_USEC": "100000"})
    try:
        noosd.wait_ready()
        # Every 50 ms: a few pings come in well under a second.
        noosd.wait_for_notification("WATCHDOG=1", timeout=2, count=5)
    finally:
        noosd.terminate()


def test_sigterm_stops_it_cleanly(bus_address: str) -> None:
    noosd = NoosdProcess("system", "--bus", bus_address).wait_ready()
    assert name_has_owner(bus_address, "org.noos.System1")

    noosd.process.send_signal(signal.SIGTERM)
    noosd.wait_for_notification("STOPPING=1")

    assert noosd.finish() == 0
    assert not name_has_owner(bus_address, "org.noos.System1")


def test_a_name_already_owned_is_a_clear_failure(
    bus_address: str, noosd_system: NoosdProcess
) -> None:
    second = run_noosd("system", "--bus", bus_address)

    assert second.returncode == 1
    assert second.stderr.startswith("noosd: cannot start org.noos.System1: ")
    assert "already owned by another connection" in second.stderr
    assert "Traceback" not in second.stderr
    assert noosd_system.process.poll() is None


def test_an_unreachable_bus_is_a_clear_failure() -> None:
    result = run_noosd("system", "--bus", "unix:path=/nonexistent/bus")

    assert result.returncode == 1
    assert "cannot connect to the bus at unix:path=/nonexistent/bus" in result.stderr
    assert "Traceback" not in result.stderr


def test_losing_the_bus_is_a_failure_exit() -> None:
    bus = PrivateBus()
    noosd = NoosdProcess("system", "--bus", bus.address).wait_ready()

    bus.stop()

    assert noosd.finish() == 1
    assert "lost the connection to the bus" in noosd.stderr


@pytest.mark.parametrize(
    ("file", "text", "why"),
    [
        ("memory.toml", 'half_life_s = "a week"\n', "half_life_s: expected a number, not a string"),
        ("memory.toml", "half_life_s = 0\n", "half_life_s: must be more than 0, not 0.0"),
        ("memory.d/50-local.toml", "consolidate_s = 60\n", "unknown key 'consolidate_s'"),
        ("memory.toml", "half_life_s = \n", "not valid TOML: Invalid value (at line 1"),
    ],
)
def test_a_bad_setting_stops_the_service_with_one_line_naming_the_file_and_the_key(
    bus_address: str, tmp_path: Path, file: str, text: str, why: str
) -> None:
    etc = tmp_path / "etc"
    (etc / "memory.d").mkdir(parents=True)
    (etc / "memory.d" / "10-fine.toml").write_text("consolidate_every_s = 600\n")
    (etc / file).write_text(text)
    noosd = NoosdProcess(
        "memory",
        "--bus",
        bus_address,
        env={"NOOS_CONFIG_DIR": str(etc), "NOOS_MEMORY_STATE_DIR": str(tmp_path / "state")},
    )

    # Never ready, so systemd marks the unit failed; 78 keeps it from restarting.
    with pytest.raises(AssertionError, match="exited with 78 before READY=1"):
        noosd.wait_ready()

    [line] = noosd.stderr.splitlines()
    assert line.startswith(f"noosd: memory: {etc / file}: {why}")
    assert "Traceback" not in noosd.stderr
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("service", sorted(registered_services()))
def test_help_lists_every_setting_with_its_type_default_and_variable(service: str) -> None:
    result = run_noosd(service, "--help")

    assert result.returncode == 0
    for setting in load_service(service).settings_table.settings:
        described = f"  {setting.name} ({setting.kind.name}, default: {setting.default_text()}, "
        assert described in result.stdout
        assert f"${setting.env})\n      {setting.help}\n" in result.stdout
