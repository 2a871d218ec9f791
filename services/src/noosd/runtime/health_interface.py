"""org.noos.Service1: what every noos service says of its own progress.

Exported by the runtime beside each service's own interfaces, at its object
path. `Health` lists the service's work loops (`noosd.runtime.health`), as the
protocol spells them (`noos.protocol.service`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated

from dbus_fast import PropertyAccess
from dbus_fast.annotations import DBusSignature
from dbus_fast.service import dbus_property

from noos.protocol import service as protocol
from noos.protocol.service import HEALTH_SIGNATURE, LoopFields, loop_struct
from noosd.runtime.health import WorkLoop
from noosd.runtime.interface import NoosInterface

# The name tests and the introspection files know it by.
HEALTH_INTERFACE = protocol.INTERFACE

LoopList = Annotated[list[LoopFields], DBusSignature(HEALTH_SIGNATURE)]


class HealthInterface(NoosInterface):
    """How the service's work goes: each loop busy or idle, and for how long."""

    def __init__(self, work_loops: Callable[[], Sequence[WorkLoop]]) -> None:
        super().__init__(HEALTH_INTERFACE)
        self._work_loops = work_loops

    @dbus_property(access=PropertyAccess.READ)
    def Health(self) -> LoopList:
        """Each loop: (name, busy, busy_s, silent_s, completed, last_done, stuck, waiting)."""
        return [loop_struct(loop.state()) for loop in self._work_loops()]
