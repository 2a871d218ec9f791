"""polkit in the booted image: who may load a model, and act on another
user's jobs and indexed files, besides root.

A user outside the noos-admin group may not (polkit refuses: no password is
asked of a call that did not offer to answer one); once root adds them to the
group, the shipped rules let them, with no password, through the same `noos`
command or busctl call. Another user's job is, to one refused, a job that does
not exist. Each test takes the user out of the group again, whatever happens.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest

from noos_qemu import Machine

pytestmark = pytest.mark.e2e

ACTION = "org.noos.scheduler.manage-models"
JOBS_ACTION = "org.noos.scheduler.manage-jobs"
INDEX_ACTION = "org.noos.index.manage"
# The owner of the job and the file another user administers (test_index.py makes them too).
OWNER, OWNER_UID = "other", 1001
OWNER_FILE = "/home/other/polkit-diary.txt"
NO_SUCH_JOB = "there is no such job"
# Calls that never let polkit ask for a password (busctl offers to answer one by default).
BUSCTL = "busctl --timeout=900 --json=short --allow-interactive-authorization=no call"
SCHEDULER = f"{BUSCTL} org.noos.Scheduler1"
JOB = "org.noos.Scheduler1.Job"
INDEX = f"{BUSCTL} org.noos.Index1 /org/noos/Index1 org.noos.Index1"
# Counting on, greedily, the model goes on to max_tokens (a chat question may
# be answered in a few dozen tokens); generation runs ~20x slower under TCG:
# this job runs for minutes, until cancelled.
LONG_JOB = "Submit 'a{sv}' 3 prompt s '1, 2, 3, 4, 5, 6, 7, 8,' max_tokens i 1000 temperature d 0"
INDEX_TIMEOUT_S = 900
# The default model: the other tests load it anyway, so loading it changes nothing for them.
MODEL = "smollm2-135m-instruct"
# The scheduler may still be starting (D-Bus activation) under TCG.
STARTUP_TIMEOUT_S = 300
BUSY_RETRIES = 30
BUSY_PAUSE_S = 5.0


def as_user(command: str, user: str = "user") -> str:
    return f"runuser -u {user} -- {command}"


def load_as_user(machine: Machine) -> str:
    """`noos llm load MODEL` as user: its output once it succeeds. Busy (room
    only once another test's job ends) is retried as its hint says; any other
    failure fails at once."""
    for _ in range(BUSY_RETRIES):
        status, output = machine.execute(as_user(f"noos llm load {MODEL}"), STARTUP_TIMEOUT_S)
        if status == 0:
            return output
        assert "retry after" in output, output
        time.sleep(BUSY_PAUSE_S)
    raise AssertionError(f"still Busy after {BUSY_RETRIES} tries: {output}")


def test_polkit_knows_the_noos_actions(machine: Machine) -> None:
    # pkaction asks polkitd itself: this also starts it (D-Bus activation).
    shown = machine.succeed(f"pkaction --verbose --action-id {ACTION}", timeout=STARTUP_TIMEOUT_S)
    assert "implicit any:      no" in shown
    assert "implicit active:   auth_admin_keep" in shown
    assert "org.freedesktop.policykit.owner -> unix-user:noos-scheduler" in shown
    assert machine.succeed("getent group noos-admin").startswith("noos-admin:")


def test_a_user_loads_models_only_once_in_noos_admin(machine: Machine) -> None:
    machine.succeed(
        "busctl get-property org.noos.Scheduler1 /org/noos/Scheduler1 org.noos.Scheduler1 Models",
        timeout=STARTUP_TIMEOUT_S,
    )
    machine.succeed(f"pkaction --action-id {ACTION}", timeout=STARTUP_TIMEOUT_S)
    assert "noos-admin" not in machine.succeed("id -nG user")

    denied = machine.fail(as_user(f"noos llm load {MODEL}"), timeout=STARTUP_TIMEOUT_S)
    assert f"may not {ACTION}" in denied

    machine.succeed("gpasswd --add user noos-admin")
    try:
        assert "noos-admin" in machine.succeed(as_user("id -nG"))
        assert MODEL in load_as_user(machine)
    finally:
        machine.succeed("gpasswd --delete user noos-admin")
    # Out of the group, refused again: polkit asks the group at every call.
    assert f"may not {ACTION}" in machine.fail(as_user(f"noos llm load {MODEL}"))


def on_job(job: str, member: str) -> str:
    return f"{SCHEDULER} {job} {JOB} {member}"


def job_state(output: str) -> str:
    """The state in a job's info, as busctl --json=short prints it."""
    return str(json.loads(output)["data"][0]["state"]["data"])


def test_a_user_administers_anothers_jobs_and_files_only_once_in_noos_admin(
    machine: Machine,
) -> None:
    machine.succeed(f"pkaction --action-id {JOBS_ACTION}", timeout=STARTUP_TIMEOUT_S)
    machine.succeed(f"pkaction --action-id {INDEX_ACTION}", timeout=STARTUP_TIMEOUT_S)
    assert "noos-admin" not in machine.succeed("id -nG user")
    machine.succeed(f"id {OWNER} || useradd --create-home --uid {OWNER_UID} {OWNER}")
    # The owner's private file, indexed now (IndexFile answers once it is).
    machine.succeed(
        as_user(f"sh -c 'echo The roses failed again this year. > {OWNER_FILE}'", OWNER)
    )
    machine.succeed(f"chmod 600 {OWNER_FILE}")
    indexed = machine.succeed(
        as_user(f"{INDEX} IndexFile s {OWNER_FILE}", OWNER), timeout=INDEX_TIMEOUT_S
    )
    assert json.loads(indexed)["data"][0][3] == "", indexed
    submitted = machine.succeed(
        as_user(f"{SCHEDULER} /org/noos/Scheduler1 org.noos.Scheduler1 {LONG_JOB}", OWNER),
        timeout=STARTUP_TIMEOUT_S,
    )
    job = json.loads(submitted)["data"][0]
    missing = f"/org/noos/Scheduler1/jobs/{secrets.randbits(63) + 1}"
    try:
        # Outside the group: the job is, to the user, one that does not exist.
        for member in ("Info", "Cancel", "Wait", "Watch"):
            for path in (job, missing):
                refused = machine.fail(as_user(on_job(path, member)), timeout=STARTUP_TIMEOUT_S)
                assert NO_SUCH_JOB in refused, (member, path, refused)
        listed = machine.succeed(
            as_user(f"{SCHEDULER} /org/noos/Scheduler1 org.noos.Scheduler1 Jobs")
        )
        assert job not in listed
        # busctl prints the error's message, not its name: PermissionDenied's.
        denied = machine.fail(as_user(f"{INDEX} Forget s {OWNER_FILE}"))
        assert f"uid 1000 may not read {OWNER_FILE}" in denied, denied
        assert job_state(machine.succeed(on_job(job, "Info"))) != "cancelled"

        machine.succeed("gpasswd --add user noos-admin")
        try:
            listed = machine.succeed(
                as_user(f"{SCHEDULER} /org/noos/Scheduler1 org.noos.Scheduler1 Jobs")
            )
            assert job in listed
            info = machine.succeed(as_user(on_job(job, "Info")))
            assert job_state(info) in ("queued", "loading", "running"), info
            machine.succeed(as_user(on_job(job, "Cancel")))
            waited = machine.succeed(as_user(on_job(job, "Wait")), timeout=STARTUP_TIMEOUT_S)
            assert job_state(waited) == "cancelled"
            # A job that never was is none to an administrator either.
            assert NO_SUCH_JOB in machine.fail(as_user(on_job(missing, "Info")))
            forgot = machine.succeed(as_user(f"{INDEX} Forget s {OWNER_FILE}"))
            assert json.loads(forgot)["data"][0] == 1, forgot
        finally:
            machine.succeed("gpasswd --delete user noos-admin")
        # Out of the group, refused again: polkit asks the group at every call.
        assert NO_SUCH_JOB in machine.fail(as_user(on_job(job, "Info")))
    finally:
        machine.execute(on_job(job, "Cancel"))
        machine.execute(f"rm -f {OWNER_FILE}")
