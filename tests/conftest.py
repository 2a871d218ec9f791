"""Fixtures shared by the unit and integration tests: a private bus, and services on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from noos.bus import Connection
from noosd.runtime import HostOptions, ServiceHost
from noosd.runtime.settings import CONFIG_DIR_ENV
from noosd.system.service import SystemService
from tests.fixtures.image_release import write_os_release
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.probe import PROBE_MAX_IN_FLIGHT, ProbeService


@pytest.fixture(autouse=True)
def _no_systemd_or_bus_from_outside(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever runs the tests, the services under test talk to no systemd and
    no default bus, and read no settings from the machine's /etc/noos."""
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "NOOS_BUS_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path_factory.getbasetemp() / "no-settings"))


@pytest.fixture(scope="session")
def bus_address() -> Iterator[str]:
    """The address of a private dbus-daemon, shared by the whole session."""
    bus = PrivateBus()
    yield bus.address
    bus.stop()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory like the image's: two valid models and a broken one."""
    root = tmp_path_factory.mktemp("models")
    chat = root / "tiny-chat"
    chat.mkdir()
    (chat / "tiny.gguf").write_bytes(b"GGUF" + bytes(96))
    (chat / "model.toml").write_text(
        'name = "tiny-chat"\nkind = "chat"\nformat = "gguf"\nfile = "tiny.gguf"\n'
        'source = "the tests"\nlicence = "CC0"\n'
    )
    embedding = root / "tiny-embedding"
    embedding.mkdir()
    (embedding / "config.json").write_text("{}")
    (embedding / "model.toml").write_text('kind = "embedding"\nfile = "."\n')
    (root / "broken").mkdir()
    (root / "broken" / "model.toml").write_text('kind = "telepathy"\nfile = "."\n')
    return root


@pytest.fixture(scope="session")
def os_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An os-release like the image's (tests.fixtures.image_release)."""
    return write_os_release(tmp_path_factory.mktemp("os-release") / "os-release")


@pytest_asyncio.fixture
async def probe(bus_address: str) -> AsyncIterator[ServiceHost]:
    """The probe service, served in the test's own event loop."""
    options = HostOptions(
        bus_address=bus_address, max_in_flight=PROBE_MAX_IN_FLIGHT, drain_timeout=5.0
    )
    host = ServiceHost(ProbeService(), options)
    await host.start()
    yield host
    await host.stop()


@pytest_asyncio.fixture
async def system_host(
    bus_address: str, models_dir: Path, os_release: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ServiceHost]:
    """org.noos.System1, served in the test's own event loop."""
    monkeypatch.setenv("NOOS_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("NOOS_OS_RELEASE", str(os_release))
    host = ServiceHost(SystemService.configured(), HostOptions(bus_address=bus_address))
    await host.start()
    yield host
    await host.stop()


@pytest_asyncio.fixture
async def connection(bus_address: str) -> AsyncIterator[Connection]:
    """A client connection to the private bus."""
    async with await Connection.open(bus_address) as connection:
        yield connection


@pytest.fixture
def noosd_system(bus_address: str, models_dir: Path, os_release: Path) -> Iterator[NoosdProcess]:
    """`noosd system` serving on the private bus, as a process of its own."""
    process = NoosdProcess(
        "system",
        "--bus",
        bus_address,
        env={"NOOS_MODELS_DIR": str(models_dir), "NOOS_OS_RELEASE": str(os_release)},
    ).wait_ready()
    yield process
    process.terminate()
