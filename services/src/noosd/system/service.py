"""org.noos.System1: the service behind `noos status`."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

from dbus_fast.service import ServiceInterface

from noos.protocol import system as protocol
from noosd.runtime import Service
from noosd.runtime.settings import Settings
from noosd.system.image import read_image_release
from noosd.system.interface import SystemInterface
from noosd.system.settings import SETTINGS


class SystemService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    settings_table = SETTINGS

    def __init__(self, settings: Settings) -> None:
        self._interface = SystemInterface(
            version=version("noosd"),
            models_dir=settings["models_dir"],
            image=read_image_release(settings["os_release"]),
        )

    def interfaces(self) -> Sequence[ServiceInterface]:
        return [self._interface]
