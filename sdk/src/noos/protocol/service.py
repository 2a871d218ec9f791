"""The wire contract of org.noos.Service1: what every noos service says of its own progress.

Exported beside each service's own interfaces, at its object path. `Health`
lists the service's work loops, `(name, busy, busy_s, silent_s, completed,
last_done, stuck, waiting)` each: counts and times only, never what an item
is about, so any user may read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from noos.protocol.options import InterfaceKeys

INTERFACE = "org.noos.Service1"

HEALTH_SIGNATURE = "a(sbddtdbu)"

KEYS = InterfaceKeys(INTERFACE, arguments={}, replies={})

LoopFields = tuple[str, bool, float, float, int, float, bool, int]


@dataclass(frozen=True)
class LoopState:
    """name; busy: an item is in hand; busy_s: since the oldest began;
    silent_s: the most CPU time an item's thread has spent since its beat;
    completed: items done since start; last_done: the wall time the last one
    ended (0: none yet); stuck: silent past its limit; waiting: items queued
    for the loop."""

    name: str
    busy: bool
    busy_s: float
    silent_s: float
    completed: int
    last_done: float
    stuck: bool
    waiting: int

    def describe(self) -> str:
        done = f"{self.completed} done, {self.waiting} waiting"
        if not self.busy:
            return f"{self.name}: idle, {done}"
        return f"{self.name}: busy {self.busy_s:.0f} s, silent {self.silent_s:.0f} s, {done}"


def loop_struct(state: LoopState) -> LoopFields:
    """One struct of the Health property."""
    return (
        state.name,
        state.busy,
        state.busy_s,
        state.silent_s,
        state.completed,
        state.last_done,
        state.stuck,
        state.waiting,
    )


def loop_of(fields: Iterable[Any]) -> LoopState:
    """A LoopState from one struct of the Health property."""
    return LoopState(*fields)
