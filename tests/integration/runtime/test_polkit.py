"""Privileged actions against the real polkitd: root always, a noos-admin member
as polkit's rules say, anyone else never, and nobody but root when polkit is
absent. Among them, another user's job and files (`administer_as.py`): one
refused is told what a user without the power always was, of a job that it
does not exist.

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
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from dbus_fast import Variant

from noos.bus import Connection
from noos.protocol import index, scheduler
from noos.protocol.actions import INDEX_SEARCH_AS_USER, MANAGE_MODELS, MEMORY_ACT_FOR_USER
from noos.protocol.errors import Unavailable
from noosd.scheduler.core.jobs import NO_SUCH_JOB
from tests.fixtures import administer_as, privileged_as
from tests.fixtures.index import running_index
from tests.fixtures.memory import start_memory
from tests.fixtures.models import shipped_models_tree
from tests.fixtures.polkit import ADMIN_UID, IMAGE_POLKIT, PrivatePolkit
from tests.fixtures.private_bus import PrivateBus
from tests.fixtures.probe import PROBE_NAME, PROBE_PATH
from tests.fixtures.scheduler import running_scheduler
from tests.fixtures.stalling_endpoint import StallingEndpoint

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

# What anyone without the power is told of another's job, and of a job that never was.
NO_SUCH_JOB_ANSWER = f"org.noos.Error.NotFound: {NO_SUCH_JOB}"
JOB_CALLS = ("info", "cancel", "wait", "watch")
# Root's files in the indexed directory: one anyone may read, one root's alone.
SHARED, PRIVATE = "shared-plan.txt", "private-diary.txt"
# A remote model whose endpoint never answers (a StallingEndpoint): its jobs
# run until cancelled, for a test to act on one running.
STALLED_MODEL = "stalled"
LONG_JOB = {
    "messages": Variant("a(ss)", [("user", "Count from one to a thousand.")]),
    "model": Variant("s", STALLED_MODEL),
}
INDEX_TIMEOUT_S = 60.0

pytestmark = pytest.mark.skipif(
    not Path("/usr/lib/polkit-1/polkitd").exists(), reason="needs polkitd (tools/host-setup.sh)"
)


@pytest.fixture(scope="module")
def files() -> Iterator[Path]:
    """The indexed directory, holding SHARED and PRIVATE: world-searchable
    (unlike pytest's tmp_path, root's alone), as a home directory is."""
    directory = Path(tempfile.mkdtemp(prefix="noos-polkit-files-"))
    directory.chmod(0o755)
    (directory / SHARED).write_text("The garden plan: tomatoes along the south fence.\n")
    (directory / SHARED).chmod(0o644)
    (directory / PRIVATE).write_text("The garden diary: the roses failed again this year.\n")
    (directory / PRIVATE).chmod(0o600)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, files: Path) -> Iterator[str]:
    """The scheduler, memory and index on a bus of their own; its address."""
    bus = PrivateBus()
    state = tmp_path_factory.mktemp("privileged")
    memory = start_memory(bus.address, state / "memory", shipped_models_tree())
    endpoint = StallingEndpoint()
    stalled_model = f"""
[[model]]
name = "{STALLED_MODEL}"
backend = "openai"
endpoint = "{endpoint.base_url}"
context_length = 2048
ram_bytes = 0
slots = 4
"""
    try:
        with (
            running_scheduler(bus.address, state / "scheduler", stalled_model, preload="0"),
            running_index(bus.address, state / "index", files),
        ):
            try:
                yield bus.address
            finally:
                # Before the scheduler stops: its cancelled jobs' requests end.
                endpoint.released.set()
    finally:
        endpoint.close()
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


@pytest_asyncio.fixture
async def roots_job(services: str, files: Path) -> AsyncIterator[str]:
    """The path of a long job of root's, running, cancelled at the end; and
    root's files indexed, for another user to forget."""
    async with await Connection.open(services) as bus:
        (job,) = await bus.call(
            scheduler.BUS_NAME, scheduler.OBJECT_PATH, scheduler.INTERFACE, "Submit", "a{sv}",
            [LONG_JOB],
        )  # fmt: skip
        try:
            for name in (SHARED, PRIVATE):
                await index_now(bus, files / name)
            yield job
        finally:
            await bus.call(scheduler.BUS_NAME, job, scheduler.JOB_INTERFACE, "Cancel")


async def index_now(bus: Connection, path: Path) -> None:
    """IndexFile as root, retried while the index starts watching its root."""
    deadline = time.monotonic() + INDEX_TIMEOUT_S
    while True:
        try:
            (indexed,) = await bus.call(
                index.BUS_NAME, index.OBJECT_PATH, index.INTERFACE, "IndexFile", "s", [str(path)]
            )
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        else:
            assert indexed[3] == "", indexed
            return


async def roots_job_state(address: str, job: str) -> str:
    async with await Connection.open(address) as bus:
        (info,) = await bus.call(scheduler.BUS_NAME, job, scheduler.JOB_INTERFACE, "Info")
    return str(info["state"].value)


async def administer(uid: int, address: str, job: str, files: Path) -> dict[str, str]:
    """What `uid` got of root's job and of forgetting root's files (administer_as.py)."""
    command = [
        sys.executable, administer_as.__file__, str(uid), address, job,
        str(files / SHARED), str(files / PRIVATE),
    ]  # fmt: skip
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answers: dict[str, str] = json.loads(result.stdout)
    return answers


def assert_kept_out(answers: dict[str, str], uid: int, files: Path) -> None:
    """`uid` was told what a user without the power is told: of root's job,
    just what a job that never was answers; of root's files, why not."""
    assert answers["lists_job"] == "no"
    for call in JOB_CALLS:
        assert answers[f"job_{call}"] == answers[f"missing_{call}"] == NO_SUCH_JOB_ANSWER, call
    shared, private = files / SHARED, files / PRIVATE
    assert answers[f"forget {shared}"] == (
        f"org.noos.Error.PermissionDenied: uid {uid} may not forget {shared}: "
        "only its owner (uid 0) may"
    )
    assert answers[f"forget {private}"] == (
        f"org.noos.Error.PermissionDenied: uid {uid} may not read {private}"
    )


def assert_administered(answers: dict[str, str], files: Path) -> None:
    """The caller listed, read, cancelled, waited for and watched root's job,
    and forgot root's files, even the one it may not read."""
    assert answers["lists_job"] == "yes"
    assert answers["job_info"] in ("queued", "loading", "running"), answers
    assert answers["job_cancel"] == "allowed"
    assert answers["job_wait"] == "cancelled"
    assert answers["job_watch"] == "allowed"
    # A job that never was is no job to an administrator either.
    for call in JOB_CALLS:
        assert answers[f"missing_{call}"] == NO_SUCH_JOB_ANSWER, call
    assert answers[f"forget {files / SHARED}"] == "1"
    assert answers[f"forget {files / PRIVATE}"] == "1"


async def test_without_polkit_only_root_may(services: str) -> None:
    assert_refused(await attempts_as(NOBODY, services), "polkit cannot be asked")
    assert_refused(await attempts_as(ADMIN_UID, services), "polkit cannot be asked")
    # Root is the floor: allowed without asking anyone.
    assert set((await attempts_as(ROOT, services)).values()) == {"allowed"}


async def test_without_polkit_only_root_administers_others_jobs_and_files(
    services: str, roots_job: str, files: Path
) -> None:
    for uid in (NOBODY, ADMIN_UID):
        assert_kept_out(await administer(uid, services, roots_job, files), uid, files)
    assert await roots_job_state(services, roots_job) != "cancelled"
    assert_administered(await administer(ROOT, services, roots_job, files), files)


async def test_polkit_refuses_a_user_outside_noos_admin(
    services: str, polkit: PrivatePolkit
) -> None:
    assert_refused(await attempts_as(NOBODY, services), "polkit refuses")


async def test_polkit_lets_a_noos_admin_member_and_root(
    services: str, polkit: PrivatePolkit
) -> None:
    assert set((await attempts_as(ADMIN_UID, services)).values()) == {"allowed"}
    assert set((await attempts_as(ROOT, services)).values()) == {"allowed"}


async def test_polkit_keeps_a_user_outside_noos_admin_from_others_jobs_and_files(
    services: str, polkit: PrivatePolkit, roots_job: str, files: Path
) -> None:
    # Told exactly what they were told before polkit was asked: of a job
    # that exists, what one that never was answers.
    assert_kept_out(await administer(NOBODY, services, roots_job, files), NOBODY, files)
    assert await roots_job_state(services, roots_job) != "cancelled"


async def test_polkit_lets_a_noos_admin_member_administer_others_jobs_and_files(
    services: str, polkit: PrivatePolkit, roots_job: str, files: Path
) -> None:
    assert_administered(await administer(ADMIN_UID, services, roots_job, files), files)
    assert await roots_job_state(services, roots_job) == "cancelled"


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
