"""Whose data a call may act on: the caller's own; another user's only for
root (or whom polkit allows, tested against the real polkitd in
tests/integration/runtime/test_polkit.py)."""

from __future__ import annotations

import logging
import re

import pytest

from noos.protocol.errors import PermissionDenied
from noosd.runtime import effective_uid
from tests.fixtures.probe import PROBE_ACT_FOR_USER


@pytest.mark.parametrize("for_uid", [None, -1, -5])
async def test_no_for_uid_means_the_caller(for_uid: int | None) -> None:
    assert await effective_uid(1000, for_uid, PROBE_ACT_FOR_USER) == 1000
    assert await effective_uid(0, for_uid, PROBE_ACT_FOR_USER) == 0


async def test_naming_oneself_is_allowed() -> None:
    assert await effective_uid(1000, 1000, PROBE_ACT_FOR_USER) == 1000


async def test_a_user_may_not_act_for_another_outside_a_call() -> None:
    with pytest.raises(PermissionDenied, match=re.escape(PROBE_ACT_FOR_USER.id)):
        await effective_uid(1000, 1001, PROBE_ACT_FOR_USER)


async def test_root_may_act_for_another_user_and_it_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="noosd.runtime.caller"):
        assert await effective_uid(0, 1000, PROBE_ACT_FOR_USER) == 1000
    assert "uid 0 acts for uid 1000" in caplog.text
