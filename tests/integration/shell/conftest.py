"""The services the shell's integration tests run against, one set per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.private_bus import PrivateBus, name_has_owner

BUS_NAMES = ("org.noos.Scheduler1", "org.noos.Memory1", "org.noos.Index1")


@pytest.fixture(scope="module")
def services_bus(bus_address: str) -> Iterator[str]:
    """The session's bus, or a bus of our own if another module's services hold the names."""
    if any(name_has_owner(bus_address, name) for name in BUS_NAMES):
        bus = PrivateBus()
        yield bus.address
        bus.stop()
    else:
        yield bus_address


@pytest.fixture(scope="module")
def memory_service(
    services_bus: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NoosdProcess]:
    process = start_memory(services_bus, tmp_path_factory.mktemp("memory"), shipped_models_tree())
    yield process
    assert process.terminate() == 0, process.stderr
