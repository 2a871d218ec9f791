"""May the caller do a privileged action? Root may; anyone else only as polkit says.

The services ask polkit (org.freedesktop.PolicyKit1.Authority.CheckAuthorization)
about the calling connection itself (subject `system-bus-name`), so polkit
learns who calls from the bus daemon as the service did. Root is the floor:
uid 0 is allowed without asking, so root keeps its powers when polkit is
absent. When polkit is absent or cannot answer, everyone else is refused.

polkit may ask the caller for a password through an authentication agent,
but only if the call carries D-Bus's ALLOW_INTERACTIVE_AUTHORIZATION flag
(busctl sets it by default, the SDK does not): a call is never held waiting
for a person who did not offer to answer. A check whose prompt would itself
tell something (that another user's job exists) never lets polkit ask
(`may_prompt=False`).
"""

from __future__ import annotations

import logging

from dbus_fast import Message, MessageFlag, MessageType, Variant

from noos.protocol.actions import ADMIN_GROUP, Action
from noos.protocol.errors import PermissionDenied
from noosd.runtime.calls import current_call

ROOT_UID = 0

POLKIT_NAME = "org.freedesktop.PolicyKit1"
POLKIT_PATH = "/org/freedesktop/PolicyKit1/Authority"
POLKIT_INTERFACE = "org.freedesktop.PolicyKit1.Authority"
# CheckAuthorization's flags: 1 lets polkit ask the subject for a password.
ALLOW_USER_INTERACTION = 0x1

_log = logging.getLogger(__name__)


def check_authorization(sender: str, action: Action, interactive: bool) -> Message:
    """polkit's question: may the connection `sender` do `action`?"""
    subject = ["system-bus-name", {"name": Variant("s", sender)}]
    return Message(
        destination=POLKIT_NAME,
        path=POLKIT_PATH,
        interface=POLKIT_INTERFACE,
        member="CheckAuthorization",
        signature="(sa{sv})sa{ss}us",
        body=[subject, action.id, {}, ALLOW_USER_INTERACTION if interactive else 0, ""],
    )


def lets_polkit_prompt(call_flags: MessageFlag, may_prompt: bool) -> bool:
    """Whether polkit may ask for a password: the call offered to answer one
    (ALLOW_INTERACTIVE_AUTHORIZATION), and the check `may_prompt`."""
    return may_prompt and bool(call_flags & MessageFlag.ALLOW_INTERACTIVE_AUTHORIZATION)


async def authorize(uid: int, action: Action, *, may_prompt: bool = True) -> None:
    """Return if the caller of the call being served, whose uid is `uid`, may
    do `action`; else PermissionDenied naming the action. polkit may ask for a
    password if the call offered to answer one and `may_prompt`."""
    if uid == ROOT_UID:
        return
    try:
        call = current_call()
    except RuntimeError:
        raise PermissionDenied(f"{action.id} is root's outside a D-Bus call") from None
    sender = call.message.sender
    if not sender:
        raise PermissionDenied("the call has no sender to identify")
    interactive = lets_polkit_prompt(call.message.flags, may_prompt)
    reply = await call.callers.bus.call(check_authorization(sender, action, interactive))
    if reply.message_type is MessageType.ERROR:
        _log.warning("polkit could not be asked about %s: %s", action.id, reply.error_name)
        raise PermissionDenied(
            f"uid {uid} may not {action.id}: it needs root or polkit's consent, "
            f"and polkit cannot be asked ({reply.error_name})"
        )
    authorized, challenged, _details = reply.body[0]
    if authorized:
        _log.info("polkit allows uid %d %s", uid, action.id)
        return
    why = "authentication is required" if challenged else "polkit refuses"
    raise PermissionDenied(
        f"uid {uid} may not {action.id}: {why} (root and the {ADMIN_GROUP} group may)"
    )


async def permitted(uid: int, action: Action, *, may_prompt: bool = True) -> bool:
    """Whether the caller of the call being served may do `action` (`authorize`),
    for a call that does something else when it may not."""
    try:
        await authorize(uid, action, may_prompt=may_prompt)
    except PermissionDenied:
        return False
    return True
