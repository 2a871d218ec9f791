"""The org.noos.System1 interface."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from dbus_fast import PropertyAccess, Variant
from dbus_fast.annotations import DBusSignature, DBusStr, DBusUInt32
from dbus_fast.service import dbus_property

from noos.protocol.errors import InvalidArgument, NotFound
from noos.protocol.system import (
    INTERFACE,
    MODELS_SIGNATURE,
    Model,
    ModelFields,
    model_info_dict,
    model_struct,
)
from noosd.runtime import NoosInterface, caller_uid, noos_method
from noosd.shared.models import find_models
from noosd.system.image import ImageRelease

ModelList = Annotated[list[ModelFields], DBusSignature(MODELS_SIGNATURE)]
VariantDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]


class SystemInterface(NoosInterface):
    """What this noos is: its version, its image's build and models; and who the caller is to it."""

    def __init__(self, version: str, models_dir: Path, image: ImageRelease) -> None:
        super().__init__(INTERFACE)
        self._version = version
        self._models_dir = models_dir
        self._image = image

    @noos_method()
    def Ping(self) -> DBusStr:
        """'pong': the service is up and answering."""
        return "pong"

    @noos_method()
    async def WhoAmI(self) -> DBusUInt32:
        """The caller's uid, as the bus daemon knows it."""
        return await caller_uid()

    @noos_method()
    def ModelInfo(self, name: DBusStr) -> VariantDict:
        """All that is known of model `name`: name, kind, path, format, source, licence, size."""
        if not name:
            raise InvalidArgument("a model name must not be empty")
        for model in find_models(self._models_dir):
            if model.name == name:
                return model_info_dict(
                    {
                        "name": model.name,
                        "kind": model.kind,
                        "path": str(model.path),
                        "format": model.format,
                        "source": model.source,
                        "licence": model.licence,
                        "size": model.size(),
                    }
                )
        raise NotFound(f"no model named {name!r} in {self._models_dir}")

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> DBusStr:
        """The version of noosd."""
        return self._version

    @dbus_property(access=PropertyAccess.READ)
    def ImageVersion(self) -> DBusStr:
        """The build of the image (its os-release's IMAGE_VERSION); "" outside a noos image."""
        return self._image.version

    @dbus_property(access=PropertyAccess.READ)
    def DebianLock(self) -> DBusStr:
        """The digest of the Debian lock the image was built to (its os-release's
        NOOS_DEBIAN_LOCK, sha256:...); "" outside a noos image."""
        return self._image.debian_lock

    # Read afresh on each Get: the directory is small, and may change under us.
    @dbus_property(access=PropertyAccess.READ)
    def Models(self) -> ModelList:
        """The models: (name, kind, path) each."""
        return [
            model_struct(Model(model.name, model.kind, str(model.path)))
            for model in find_models(self._models_dir)
        ]
