"""org.noos.Service1: what every noos service says of its own progress.

Exported by the runtime beside each service's own interfaces, at its object
path. `Health` lists the service's work loops (`noosd.runtime.health`):
`(name, busy, busy_s, silent_s, completed, last_done, stuck,
waiting)`. Counts and
times only, never what an item is about, so any user may read it: a test or
an administrator tells a slow service from a stuck one without a debugger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from dbus_fast import PropertyAccess
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import ServiceInterface, dbus_property

from noosd.runtime.health import WorkLoop

HEALTH_INTERFACE = "org.noos.Service1"

LoopStruct = tuple[str, bool, float, float, int, float, bool, int]
LoopList = Annotated[list[LoopStruct], DBusSignature("a(sbddtdbu)")]


class HealthInterface(ServiceInterface):
    """How the service's work goes: each loop busy or idle, and for how long."""

    def __init__(self, work_loops: Callable[[], Sequence[WorkLoop]]) -> None:
        super().__init__(HEALTH_INTERFACE)
        self._work_loops = work_loops

    @dbus_property(access=PropertyAccess.READ)
    def Health(self) -> LoopList:
        """Each loop: (name, busy, busy_s, silent_s, completed, last_done, stuck, waiting)."""
        return [
            (s.name, s.busy, s.busy_s, s.silent_s, s.completed, s.last_done, s.stuck, s.waiting)
            for s in (loop.state() for loop in self._work_loops())
        ]
