"""What the services ask polkit: about the calling connection, letting polkit
ask for a password only when the call offered to answer one. (polkit's
answers are tested against the real polkitd: tests/integration/runtime/test_polkit.py.)"""

from __future__ import annotations

import pytest
from dbus_fast import MessageFlag

from noos.protocol.actions import MANAGE_MODELS
from noos.protocol.errors import PermissionDenied
from noosd.runtime.authority import (
    ALLOW_USER_INTERACTION,
    authorize,
    check_authorization,
    lets_polkit_prompt,
)


@pytest.mark.parametrize("interactive, flags", [(False, 0), (True, ALLOW_USER_INTERACTION)])
def test_the_question_names_the_caller_and_the_action(interactive: bool, flags: int) -> None:
    question = check_authorization(":1.42", MANAGE_MODELS, interactive)
    assert question.destination == "org.freedesktop.PolicyKit1"
    assert question.member == "CheckAuthorization"
    subject, action_id, details, sent_flags, cancellation = question.body
    assert subject[0] == "system-bus-name"
    assert subject[1]["name"].value == ":1.42"
    assert (action_id, details, sent_flags, cancellation) == (MANAGE_MODELS.id, {}, flags, "")


async def test_root_needs_no_one() -> None:
    await authorize(0, MANAGE_MODELS)


async def test_anyone_else_outside_a_call_is_refused() -> None:
    with pytest.raises(PermissionDenied, match=MANAGE_MODELS.id):
        await authorize(1000, MANAGE_MODELS)


@pytest.mark.parametrize(
    "call_flags, may_prompt, prompts",
    [
        (MessageFlag.ALLOW_INTERACTIVE_AUTHORIZATION, True, True),
        (MessageFlag.NONE, True, False),
        # A check whose prompt would tell something (that a job exists) never prompts.
        (MessageFlag.ALLOW_INTERACTIVE_AUTHORIZATION, False, False),
        (MessageFlag.NONE, False, False),
    ],
)
def test_polkit_asks_for_a_password_only_when_offered_and_allowed(
    call_flags: MessageFlag, may_prompt: bool, prompts: bool
) -> None:
    assert lets_polkit_prompt(call_flags, may_prompt) is prompts
