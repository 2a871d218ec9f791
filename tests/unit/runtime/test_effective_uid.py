"""Whose data a call may act on: the caller's own; root's choice only when asked for."""

from __future__ import annotations

import logging

import pytest

from noos.protocol.errors import PermissionDenied
from noosd.runtime import effective_uid


@pytest.mark.parametrize("for_uid", [None, -1, -5])
def test_no_for_uid_means_the_caller(for_uid: int | None) -> None:
    assert effective_uid(1000, for_uid) == 1000
    assert effective_uid(0, for_uid) == 0


def test_naming_oneself_is_allowed() -> None:
    assert effective_uid(1000, 1000) == 1000


def test_a_user_may_not_act_for_another() -> None:
    with pytest.raises(PermissionDenied, match="uid 1000 may not act for uid 1001"):
        effective_uid(1000, 1001)


def test_root_may_act_for_another_user_and_it_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="noosd.runtime.caller"):
        assert effective_uid(0, 1000) == 1000
    assert "uid 0 acts for uid 1000" in caplog.text
