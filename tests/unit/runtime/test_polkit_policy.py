"""The image's polkit actions are the protocol's table, and name every action
a method of a service declares (`noos_method(action=...)`)."""

from __future__ import annotations

import importlib
import inspect
import xml.etree.ElementTree as ET
from pathlib import Path

from dbus_fast.service import ServiceInterface

from noos.protocol.actions import ACTIONS, MANAGE_MODELS
from noosd.runtime.method import ACTION
from noosd.runtime.polkit_policy import COMMAND, SHIPPED, main, policy
from noosd.runtime.registry import registered_services

REPO = Path(__file__).parents[3]
RULES = REPO / "mkosi.extra/usr/share/polkit-1/rules.d/50-noos.rules"
SYSUSERS = REPO / "mkosi.extra/usr/lib/sysusers.d/noos-admin.conf"


def shipped_actions() -> dict[str, ET.Element]:
    tree = ET.parse(REPO / SHIPPED)
    return {action.attrib["id"]: action for action in tree.getroot().iter("action")}


def declared_actions() -> dict[str, str]:
    """Every privileged method of every service's interfaces: `Interface.Method` → action id."""
    declared = {}
    for name in registered_services():
        module = importlib.import_module(f"noosd.{name}.interface")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, ServiceInterface) or cls.__module__ != module.__name__:
                continue
            for member, method in vars(cls).items():
                if (action := getattr(method, ACTION, None)) is not None:
                    declared[f"{cls.__name__}.{member}"] = action.id
    return declared


def test_the_shipped_policy_is_up_to_date_with_the_table() -> None:
    assert (REPO / SHIPPED).read_text() == policy(), f"regenerate it: {COMMAND} {SHIPPED}"


def test_every_declared_action_is_shipped() -> None:
    declared = declared_actions()
    assert {
        "SchedulerInterface.Load": MANAGE_MODELS.id,
        "SchedulerInterface.Unload": MANAGE_MODELS.id,
        "SchedulerInterface.Pin": MANAGE_MODELS.id,
    }.items() <= declared.items()
    assert set(declared.values()) <= shipped_actions().keys()


def test_each_action_asks_an_admin_locally_and_refuses_elsewhere() -> None:
    shipped = shipped_actions()
    assert shipped.keys() == {action.id for action in ACTIONS}
    for action in ACTIONS:
        element = shipped[action.id]
        assert element.findtext("defaults/allow_active") == "auth_admin_keep"
        assert element.findtext("defaults/allow_inactive") == "no"
        assert element.findtext("defaults/allow_any") == "no"
        # polkit answers the service about its callers only if it owns the action.
        owner = element.find("annotate[@key='org.freedesktop.policykit.owner']")
        assert owner is not None and owner.text == f"unix-user:noos-{action.service}"


def test_the_rules_grant_the_actions_to_the_group_that_sysusers_creates() -> None:
    assert 'subject.isInGroup("noos-admin")' in RULES.read_text()
    assert 'action.id.indexOf("org.noos.") == 0' in RULES.read_text()
    assert all(action.id.startswith("org.noos.") for action in ACTIONS)
    assert "g noos-admin -" in SYSUSERS.read_text()


def test_the_generator_writes_the_file(tmp_path: Path) -> None:
    assert main([str(tmp_path / "org.noos.policy")]) == 0
    assert (tmp_path / "org.noos.policy").read_text() == policy()
