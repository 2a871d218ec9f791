"""The systemd units of the noos services: bounds, no network where none is needed,
restarts that never leave a service failed for good, and their exposure as
`systemd-analyze security` scores it.

Each service's unit is the template noosd@.service with its drop-ins applied,
as systemd reads them: a later assignment of a key overrides an earlier one,
and for list-valued keys an empty assignment clears the list.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from noosd.runtime.registry import registered_services

REPOSITORY = Path(__file__).resolve().parents[2]
UNITS = REPOSITORY / "mkosi.extra/usr/lib/systemd/system"
IMAGE_DOC = REPOSITORY / "docs/image.md"
TEMPLATE = UNITS / "noosd@.service"
# Keys whose assignments add up (an empty one clears them); the rest: the last wins.
LIST_KEYS = {"IPAddressDeny", "IPAddressAllow", "RestrictAddressFamilies", "SystemCallFilter"}
SERVICES = sorted(registered_services())
NO_NETWORK = {"system", "memory", "index"}
SECONDS = {"s": 1, "sec": 1, "min": 60, "h": 3600}
# The target: above it, each point a unit keeps is explained in docs/image.md.
MOST_EXPOSURE = 1.0

Unit = dict[tuple[str, str], list[str]]


def read_into(unit: Unit, path: Path) -> None:
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values = unit.setdefault((section, key.strip()), [])
        if key.strip() not in LIST_KEYS or not value.strip():
            values.clear()
        if value.strip():
            values.append(value.strip())


def unit_of(service: str) -> Unit:
    """noosd@SERVICE.service as systemd reads it: the template, then its drop-ins."""
    unit: Unit = {}
    read_into(unit, TEMPLATE)
    for drop_in in sorted((UNITS / f"noosd@{service}.service.d").glob("*.conf")):
        read_into(unit, drop_in)
    return unit


def value(unit: Unit, section: str, key: str) -> str:
    values = unit.get((section, key), [])
    assert values, f"[{section}] {key}= is not set"
    return " ".join(values)


def seconds(span: str) -> float:
    number, unit = re.fullmatch(r"(\d+)\s*([a-z]*)", span).groups()  # type: ignore[union-attr]
    return int(number) * SECONDS[unit or "s"]


def bytes_or_share(limit: str) -> float:
    """A MemoryMax= value: bytes, or a share of the machine's memory (0 to 1)."""
    if limit.endswith("%"):
        return float(limit[:-1]) / 100
    number, suffix = re.fullmatch(r"(\d+)([KMGT]?)", limit).groups()  # type: ignore[union-attr]
    return int(number) * 1024 ** " KMGT".index(suffix or " ")


def test_every_service_has_a_unit_to_read() -> None:
    assert TEMPLATE.is_file()
    assert SERVICES == ["index", "memory", "scheduler", "system"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_bounded_in_descriptors_tasks_and_memory(service: str) -> None:
    unit = unit_of(service)

    # Bounded, and enough for its calls in flight with their descriptors.
    assert 1024 <= int(value(unit, "Service", "LimitNOFILE")) <= 65536
    assert 64 <= int(value(unit, "Service", "TasksMax")) <= 4096
    memory_max = bytes_or_share(value(unit, "Service", "MemoryMax"))
    assert memory_max <= 1 or memory_max >= 512 * 1024**2
    if (high := unit.get(("Service", "MemoryHigh"))) is not None:
        assert bytes_or_share(high[-1]) < memory_max


@pytest.mark.parametrize("service", SERVICES)
def test_the_services_share_the_cpu_by_thread_priority(service: str) -> None:
    unit = unit_of(service)

    # A weight of its own would make the service a cgroup of its own, whose
    # threads' nice values would then count only against each other.
    assert ("Service", "CPUWeight") not in unit
    # The scheduler may raise a preempted job's thread back to nice 0, no further.
    nice = unit.get(("Service", "LimitNICE"))
    assert nice == (["+0"] if service == "scheduler" else None)


@pytest.mark.parametrize("service", SERVICES)
def test_a_crash_loop_restarts_the_service_instead_of_leaving_it_failed(service: str) -> None:
    unit = unit_of(service)

    assert value(unit, "Service", "Restart") == "on-failure"
    assert "78" in value(unit, "Service", "RestartPreventExitStatus").split()
    restart_every = seconds(value(unit, "Service", "RestartSec"))
    interval = seconds(value(unit, "Unit", "StartLimitIntervalSec"))
    burst = int(value(unit, "Unit", "StartLimitBurst"))
    # Restarts alone, one per RestartSec at most, never reach the start limit.
    assert restart_every > 0
    assert interval / restart_every + 1 < burst


@pytest.mark.parametrize("service", sorted(NO_NETWORK))
def test_services_that_need_no_network_have_none(service: str) -> None:
    unit = unit_of(service)

    assert value(unit, "Service", "IPAddressDeny") == "any"
    assert not unit.get(("Service", "IPAddressAllow"))
    families = value(unit, "Service", "RestrictAddressFamilies").split()
    assert "AF_INET" not in families
    assert "AF_INET6" not in families
    assert value(unit, "Service", "PrivateNetwork") == "yes"
    assert families == ["AF_UNIX"]


def test_the_scheduler_keeps_the_network_for_remote_models() -> None:
    unit = unit_of("scheduler")

    assert value(unit, "Service", "PrivateNetwork") == "no"
    assert not unit.get(("Service", "IPAddressDeny"))
    assert {"AF_INET", "AF_INET6"} <= set(value(unit, "Service", "RestrictAddressFamilies").split())


def analyzed(service: str) -> tuple[float, list[str]]:
    """`systemd-analyze security` of noosd@SERVICE as the image's files make it
    (offline, the repository's mkosi.extra as the root): its exposure, and the
    names of the checks it fails."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("no systemd-analyze on this host")
    root = f"--root={REPOSITORY / 'mkosi.extra'}"
    report = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--no-pager",
            root,
            f"noosd@{service}.service",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    overall = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", report.stdout)
    if overall is None:  # systemd before 250 has no --offline
        pytest.skip(f"systemd-analyze cannot score unit files offline: {report.stderr.strip()}")
    failed = [line.split()[1] for line in report.stdout.splitlines() if line.startswith("✗")]
    return float(overall.group(1)), failed


@pytest.mark.parametrize("service", SERVICES)
def test_each_unit_is_exposed_at_most_the_target_or_says_why(service: str) -> None:
    exposure, failed = analyzed(service)
    assert failed, "the report lists no failed checks: the parsing broke"
    if exposure <= MOST_EXPOSURE:
        return
    # The kept points, each on a line of the service's table in docs/image.md.
    section = IMAGE_DOC.read_text().split(f"Kept by `noosd@{service}`", 1)
    assert len(section) == 2, f"noosd@{service} is at {exposure}, and docs/image.md says nothing"
    explained = section[1].split("\n\n", 2)[1]
    unexplained = [check for check in failed if f"`{check}`" not in explained]
    assert not unexplained, f"noosd@{service} at {exposure} keeps, unexplained: {unexplained}"
