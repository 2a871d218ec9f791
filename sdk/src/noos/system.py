"""The client of org.noos.System1: what is this noos, and who am I to it."""

from __future__ import annotations

from typing import Any

from noos.client import Client
from noos.protocol import system as protocol
from noos.protocol.system import Model
from noos.sync import SyncClient, blocking

__all__ = ["Model", "SyncSystem", "System"]


class System(Client):
    """Async client of org.noos.System1."""

    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    interface = protocol.INTERFACE

    async def ping(self) -> str:
        """'pong', once the service answers."""
        return str((await self._call("Ping"))[0])

    async def whoami(self) -> int:
        """The uid the service sees this connection as."""
        return int((await self._call("WhoAmI"))[0])

    async def version(self) -> str:
        """The version of the noos services."""
        return str(await self._get("Version"))

    async def image_version(self) -> str:
        """The build of the image the services run in; "" outside a noos image."""
        return str(await self._get("ImageVersion"))

    async def debian_lock(self) -> str:
        """The digest of the Debian lock that image was built to; "" outside one."""
        return str(await self._get("DebianLock"))

    async def models(self) -> list[Model]:
        """The models installed on the system."""
        return [protocol.model_of(fields) for fields in await self._get("Models")]

    async def model_info(self, name: str) -> dict[str, Any]:
        """Everything the system knows about model `name`; `NotFound` if there is none."""
        (info,) = await self._call("ModelInfo", "s", name)
        return protocol.model_info_of(info)


class SyncSystem(SyncClient[System]):
    """Blocking client of org.noos.System1."""

    client_type = System
    ping = blocking(System.ping)
    whoami = blocking(System.whoami)
    version = blocking(System.version)
    image_version = blocking(System.image_version)
    debian_lock = blocking(System.debian_lock)
    models = blocking(System.models)
    model_info = blocking(System.model_info)
