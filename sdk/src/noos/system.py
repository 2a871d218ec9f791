"""The client of org.noos.System1: what is this noos, and who am I to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from noos.client import Client
from noos.sync import SyncClient, blocking


@dataclass(frozen=True)
class Model:
    """A model that the system ships: its name, kind (chat, base, embedding), path."""

    name: str
    kind: str
    path: str


class System(Client):
    """Async client of org.noos.System1."""

    bus_name = "org.noos.System1"
    object_path = "/org/noos/System1"
    interface = "org.noos.System1"

    async def ping(self) -> str:
        """'pong', once the service answers."""
        return str((await self._call("Ping"))[0])

    async def whoami(self) -> int:
        """The uid the service sees this connection as."""
        return int((await self._call("WhoAmI"))[0])

    async def version(self) -> str:
        """The version of the noos services."""
        return str(await self._get("Version"))

    async def models(self) -> list[Model]:
        """The models installed on the system."""
        return [Model(name, kind, path) for name, kind, path in await self._get("Models")]

    async def model_info(self, name: str) -> dict[str, Any]:
        """Everything the system knows about model `name`; `NotFound` if there is none."""
        info = (await self._call("ModelInfo", "s", name))[0]
        return {key: variant.value for key, variant in info.items()}


class SyncSystem(SyncClient[System]):
    """Blocking client of org.noos.System1."""

    client_type = System
    ping = blocking(System.ping)
    whoami = blocking(System.whoami)
    version = blocking(System.version)
    models = blocking(System.models)
    model_info = blocking(System.model_info)
