"""`Service`: the base of every noos D-Bus service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

from dbus_fast.service import ServiceInterface

if TYPE_CHECKING:
    from noosd.runtime.bus import ServiceBus
    from noosd.runtime.health import WorkLoop
    from noosd.runtime.settings import Settings, SettingsTable


class Service(ABC):
    """A noos service: a well-known bus name, and the interfaces it exports at one path.

    A subclass registers itself in the `noosd.services` entry-point group of its
    distribution, which `noosd NAME` runs. It is built from its settings,
    which `noosd` loads from its `settings_table` (files in /etc/noos, then the
    environment), so that a bad setting stops it before it starts; its
    module, and its constructor, must stay cheap (`noosd NAME --help` and
    `--write-interfaces` build it too): no hardware, no models, heavy
    libraries imported in `start`.
    """

    bus_name: ClassVar[str]
    object_path: ClassVar[str]
    settings_table: ClassVar[SettingsTable]
    # The service's connection, set before `start`: for a service that exports
    # objects of its own at other paths (a job per path) or addresses signals.
    bus: ServiceBus

    def __init__(self, settings: Settings) -> None:  # noqa: B027 - each service takes its own
        """Take what is needed of `settings` (the values of `settings_table`)."""

    @classmethod
    def configured(cls, config_dir: Path | None = None) -> Self:
        """Built with its settings as `noosd` loads them: files under `config_dir`
        (default $NOOS_CONFIG_DIR, else /etc/noos), then the environment.

        Raises SettingsError if a setting is unusable.
        """
        return cls(cls.settings_table.load(config_dir))

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
