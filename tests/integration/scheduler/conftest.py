"""The scheduler the SDK's and the CLI's tests talk to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.scheduler import running_scheduler_with_broken_model


@pytest.fixture(scope="module")
def scheduler_with_broken_model(
    bus_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NoosdProcess]:
    """The shipped models and one whose file is broken, on the module's bus."""
    state = tmp_path_factory.mktemp("scheduler")
    with running_scheduler_with_broken_model(bus_address, state) as process:
        yield process
