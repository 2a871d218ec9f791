"""The services that `noosd` can run, found through the `noosd.services` entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from noosd.runtime.service import Service

ENTRY_POINT_GROUP = "noosd.services"


class UnknownService(LookupError):
    def __init__(self, name: str) -> None:
        known = ", ".join(sorted(registered_services())) or "none"
        super().__init__(f"no service named {name!r} (registered: {known})")


def registered_services() -> dict[str, EntryPoint]:
    """The registered services by name, without importing them."""
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def load_service(name: str) -> type[Service]:
    """The `Service` class registered as `name`."""
    point = registered_services().get(name)
    if point is None:
        raise UnknownService(name)
    service_class = point.load()
    if not (isinstance(service_class, type) and issubclass(service_class, Service)):
        raise TypeError(f"{point.value}, registered as service {name!r}, is not a Service")
    return service_class
