"""`Service`: the base of every noos D-Bus service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from dbus_fast.service import ServiceInterface


class Service(ABC):
    """A noos service: a well-known bus name, and the interfaces it exports at one path.

    A subclass registers itself in the `noosd.services` entry-point group of its
    distribution, which `noosd NAME` runs. It is built with no arguments (it
    reads its settings from the environment), so its module, and its
    constructor, must stay cheap: import heavy libraries in `start`.
    """

    bus_name: ClassVar[str]
    object_path: ClassVar[str]

    @abstractmethod
    def interfaces(self) -> Sequence[ServiceInterface]:
        """The interfaces to export at `object_path`."""

    async def start(self) -> None:  # noqa: B027 - a hook; most services need none
        """Prepare to serve: runs on the bus, before the interfaces are exported."""

    async def stop(self) -> None:  # noqa: B027 - a hook; most services need none
        """Release resources: runs after the last call has finished and the name is released."""
