"""The privileged actions of noos: what a caller may do beyond their own data.

Root (uid 0) may always do them. Anyone else may only where polkit
(org.freedesktop.PolicyKit1) says so: the services ask it for each call, with
the action's id. The image ships this table as polkit's action file
(/usr/share/polkit-1/actions/org.noos.policy, written from here by
`python -m noosd.runtime.polkit_policy`), and its rules grant every action
to the members of the `noos-admin` group. An administrator's own rules may
name the ids below.
"""

from __future__ import annotations

from dataclasses import dataclass

ADMIN_GROUP = "noos-admin"


@dataclass(frozen=True)
class Action:
    """One polkit action: its id, the noos service that checks it, and what
    polkit shows a person (`description`, and `message` when it asks for a
    password)."""

    id: str
    service: str
    description: str
    message: str


MANAGE_MODELS = Action(
    "org.noos.scheduler.manage-models",
    "scheduler",
    "Load, unload or pin the scheduler's models",
    "Authentication is required to load, unload or pin models (they use everyone's memory)",
)
MANAGE_JOBS = Action(
    "org.noos.scheduler.manage-jobs",
    "scheduler",
    "List, read, wait for and cancel another user's jobs",
    "Authentication is required to read or cancel another user's jobs",
)
MEMORY_ACT_FOR_USER = Action(
    "org.noos.memory.act-for-user",
    "memory",
    "Read and change another user's memories",
    "Authentication is required to act on another user's memories",
)
INDEX_SEARCH_AS_USER = Action(
    "org.noos.index.search-as-user",
    "index",
    "Search the indexed files as another user",
    "Authentication is required to search the files as another user",
)

INDEX_MANAGE = Action(
    "org.noos.index.manage",
    "index",
    "Take any user's files out of the index",
    "Authentication is required to take another user's files out of the index",
)

ACTIONS = (MANAGE_MODELS, MANAGE_JOBS, MEMORY_ACT_FOR_USER, INDEX_SEARCH_AS_USER, INDEX_MANAGE)
