"""Privileged actions against the real polkitd: root always, a noos-admin member
as polkit's rules say, anyone else never, and nobody but root when polkit is
absent.

The scheduler, memory and index run on a bus of the module's own; polkitd
(tests/fixtures/polkit.py) runs on it with the image's action and rules files,
seeing ADMIN_NAME in the noos-admin group. Each test asks as a user through
`privileged_as.py`. Those services run as root; the last test serves the probe
as a user of its own, as the image serves each service as `noos-NAME`, which
polkit answers about other users' connections only if it owns the action.
"""

from __future__ import annotations

import asyncio
import json
import pwd
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from noos.protocol.actions import INDEX_SEARCH_AS_USER, MANAGE_MODELS, MEMORY_ACT_FOR_USER
from tests.fixtures import privileged_as
from tests.fixtures.index import running_index
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.polkit import ADMIN_UID, IMAGE_POLKIT, PrivatePolkit
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.probe import PROBE_NAME, PROBE_PATH
from tests.fixtures.scheduler import running_scheduler

NOBODY = 65534
ROOT = 0
REPO = Path(__file__).resolve().parents[3]
# The probe's user, as the image's noos-scheduler is the scheduler's: any
# user of every Debian system other than root, nobody and the administrator.
SERVICE_USER = "bin"
MODEL = "smollm2"
# Each attempt of privileged_as.py, and the action it needs.
ACTIONS = {
    "load": MANAGE_MODELS,
    "pin": MANAGE_MODELS,
    "unpin": MANAGE_MODELS,
    "unload": MANAGE_MODELS,
    "memory_for_root": MEMORY_ACT_FOR_USER,
    "search_as_root": INDEX_SEARCH_AS_USER,
}

pytestmark = pytest.mark.skipif(
    not Path("/usr/lib/polkit-1/polkitd").exists(), reason="needs polkitd (tools/host-setup.sh)"
)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scheduler, memory and index on a bus of their own; its address."""
    bus = PrivateBus()
    state = tmp_path_factory.mktemp("privileged")
    (state / "files").mkdir()
    memory = start_memory(bus.address, state / "memory", shipped_models_tree())
    try:
        with (
            running_scheduler(bus.address, state / "scheduler", preload="0"),
            running_index(bus.address, state / "index", state / "files"),
        ):
            yield bus.address
    finally:
        assert memory.terminate() == 0, memory.stderr
        bus.stop()


@pytest.fixture
def polkit(services: str) -> Iterator[PrivatePolkit]:
    authority = PrivatePolkit(services)
    yield authority
    authority.stop()


async def attempts_as(uid: int, address: str) -> dict[str, str]:
    """What each privileged attempt gave `uid`: "allowed", or the error."""
    command = [sys.executable, privileged_as.__file__, str(uid), address, MODEL]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answers: dict[str, str] = json.loads(result.stdout)
    assert answers.keys() == ACTIONS.keys()
    return answers


def assert_refused(answers: dict[str, str], why: str) -> None:
    for attempt, answer in answers.items():
        assert answer.startswith("org.noos.Error.PermissionDenied: "), (attempt, answer)
        assert ACTIONS[attempt].id in answer, (attempt, answer)
        assert why in answer, (attempt, answer)


async def test_without_polkit_only_root_may(services: str) -> None:
    assert_refused(await attempts_as(NOBODY, services), "polkit cannot be asked")
    assert_refused(await attempts_as(ADMIN_UID, services), "polkit cannot be asked")
    # Root is the floor: allowed without asking anyone.
    assert set((await attempts_as(ROOT, services)).values()) == {"allowed"}


async def test_polkit_refuses_a_user_outside_noos_admin(
    services: str, polkit: PrivatePolkit
) -> None:
    assert_refused(await attempts_as(NOBODY, services), "polkit refuses")


async def test_polkit_lets_a_noos_admin_member_and_root(
    services: str, polkit: PrivatePolkit
) -> None:
    assert set((await attempts_as(ADMIN_UID, services)).values()) == {"allowed"}
    assert set((await attempts_as(ROOT, services)).values()) == {"allowed"}


@pytest.fixture
def probe_as_service_user(services: str) -> Iterator[None]:
    """The probe (its Manage is MANAGE_MODELS) served as SERVICE_USER on the module's bus."""
    uid = pwd.getpwnam(SERVICE_USER).pw_uid
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.probe_as", str(uid), services],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    yield
    process.terminate()
    process.wait(timeout=10)


def manage_as(uid: int, address: str) -> str:
    """What busctl, run as `uid`, gets from the probe's Manage: its reply or its error."""
    command = [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "busctl", f"--address={address}", "call", PROBE_NAME, PROBE_PATH, PROBE_NAME, "Manage",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def test_polkit_answers_a_service_user_that_owns_the_action(
    services: str, probe_as_service_user: None, tmp_path: Path
) -> None:
    # The image's actions are owned by the services' users (noos-scheduler),
    # which this host lacks: polkit answers no other user about its callers.
    authority = PrivatePolkit(services)
    try:
        assert "polkit cannot be asked" in manage_as(ADMIN_UID, services)
    finally:
        authority.stop()
    # The same actions, owned by the probe's user: polkit answers it.
    owned = tmp_path / "actions"
    owned.mkdir()
    shipped = (IMAGE_POLKIT / "actions" / "org.noos.policy").read_text()
    (owned / "org.noos.policy").write_text(
        shipped.replace("unix-user:noos-scheduler", f"unix-user:{SERVICE_USER}")
    )
    authority = PrivatePolkit(services, owned)
    try:
        assert manage_as(ADMIN_UID, services).strip() == 's "managed"'
        assert f"may not {MANAGE_MODELS.id}: polkit refuses" in manage_as(NOBODY, services)
    finally:
        authority.stop()
