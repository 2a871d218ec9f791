"""The base of the typed clients of the noos services."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from noos.bus import Closing, Connection
from noos.watch import PropertiesChanged, ServiceChange, Watch, watch_properties, watch_services


class Client(Closing):
    """A client of one interface of one noos service, over a `Connection`.

    A subclass names the service (`bus_name`, `object_path`, `interface`) and
    writes one typed async method per D-Bus member on top of `_call`, `_get`
    and `_get_all`; `noos.sync.blocking` then derives its blocking twin.
    """

    bus_name: ClassVar[str]
    object_path: ClassVar[str]
    interface: ClassVar[str]

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @classmethod
    async def connect(cls, address: str | None = None) -> Self:
        """A client on a connection of its own (see `Connection.open` for `address`)."""
        return cls(await Connection.open(address))

    async def close(self) -> None:
        """Close the client's connection (and so every client sharing it)."""
        await self.connection.close()

    def watch_properties(self) -> Watch[PropertiesChanged]:
        """The interface's PropertiesChanged, as they come (see `noos.watch`)."""
        return watch_properties(self.connection, self.bus_name, self.object_path, self.interface)

    def watch_presence(self) -> Watch[ServiceChange]:
        """The service coming onto the bus and leaving it."""
        return watch_services(self.connection, [self.bus_name])

    async def _call(self, member: str, signature: str = "", *args: Any) -> list[Any]:
        """Call `member` of the interface; the reply's body."""
        return await self.connection.call(
            self.bus_name, self.object_path, self.interface, member, signature, args
        )

    async def _get(self, name: str) -> Any:
        """The value of the interface's property `name`."""
        return await self.connection.get_property(
            self.bus_name, self.object_path, self.interface, name
        )

    async def _get_all(self) -> dict[str, Any]:
        """Every property of the interface, by name, in one call."""
        return await self.connection.get_all_properties(
            self.bus_name, self.object_path, self.interface
        )
