"""polkit in the booted image: who may load a model besides root.

A user outside the noos-admin group may not (polkit refuses: no password is
asked of a call that did not offer to answer one); once root adds them to the
group, the shipped rules let them, with no password, through the same `noos`
command. The test takes the user out of the group again, whatever happens.
"""

from __future__ import annotations

import time

import pytest

from noos_qemu import Machine

pytestmark = pytest.mark.e2e

ACTION = "org.noos.scheduler.manage-models"
# The default model: the other tests load it anyway, so loading it changes nothing for them.
MODEL = "smollm2-135m-instruct"
# The scheduler may still be starting (D-Bus activation) under TCG.
STARTUP_TIMEOUT_S = 300
BUSY_RETRIES = 30
BUSY_PAUSE_S = 5.0


def as_user(command: str) -> str:
    return f"runuser -u user -- {command}"


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
