"""Load: two users of eight flood the services while six others use them as people do;
the six are (almost) never told Busy.

Each user is a process of its own uid (`tests/fixtures/load_as.py`). The heavy
ones keep far more calls in flight than their share, over several
connections, and send each again as soon as it ends; the light ones make one
call at a time (remember, recall, search, an interactive question, now and
then a batch job). The services' gate gives each uid a share of their work
and wait budgets, so only the flooders are refused. How fast the light users
are served under the flood is the `security_load` benchmark's business.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.load import UserResult, load_services, roles, run_users

HEAVY = 2
SECONDS = 30.0
SLOTS = 2
# The bound on a light user's Busy rate while others flood.
LIGHT_BUSY_RATE = 0.01


@pytest.fixture(scope="module")
def services() -> Iterator[str]:
    with load_services(SLOTS) as address:
        yield address


async def test_light_users_are_served_while_heavy_users_flood(services: str) -> None:
    results = await run_users(services, roles(HEAVY), SECONDS)

    heavy = [result for result in results if result.role == "heavy"]
    light = [result for result in results if result.role == "light"]
    # The flood was one: past their share, the heavy users were refused.
    assert all(result.busy > 0 for result in heavy), summary(results)
    for result in light:
        assert result.busy_rate <= LIGHT_BUSY_RATE, summary(results)
        assert result.failed == {}, summary(results)
        # Each kind of call was served.
        assert all(kind["seconds"] for kind in result.kinds), summary(results)


def summary(results: list[UserResult]) -> str:
    return "\n".join(
        f"uid {r.uid} ({r.role}): {r.calls} calls, {r.busy} Busy, failed {r.failed}"
        for r in results
    )
