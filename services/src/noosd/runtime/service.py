"""`Service`: the base of every noos D-Bus service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from dbus_fast.service import ServiceInterface

if TYPE_CHECKING:
    from noosd.runtime.bus import ServiceBus
    from noosd.runtime.health import WorkLoop


class Service(ABC):
    """A noos service: a well-known bus name, and the interfaces it exports at one path.

    A subclass registers itself in the `noosd.services` entry-point group of its
    distribution, which `noosd NAME` runs. It is built with no arguments (it
    reads its settings from the environment), so its module, and its
    constructor, must stay cheap: import heavy libraries in `start`.
    """

    bus_name: ClassVar[str]
    object_path: ClassVar[str]
    # The service's connection, set before `start`: for a service that exports
    # objects of its own at other paths (a job per path) or addresses signals.
    bus: ServiceBus

    @abstractmethod
    def interfaces(self) -> Sequence[ServiceInterface]:
        """The interfaces to export at `object_path`."""

    def other_interfaces(self) -> Sequence[ServiceInterface]:
        """Interfaces of the objects the service exports at paths of its own
        choosing (one per job), for the introspection files; most have none."""
        return []

    def work_loops(self) -> Sequence[WorkLoop]:
        """The loops whose progress the watchdog checks and `Health` reports
        (`noosd.runtime.health`); asked again each time, as loops may come late."""
        return []

    async def start(self) -> None:  # noqa: B027 - a hook; most services need none
        """Prepare to serve: runs on the bus, before the interfaces are exported."""

    async def stop(self) -> None:  # noqa: B027 - a hook; most services need none
        """Release resources: runs after the last call has finished and the name is released."""
