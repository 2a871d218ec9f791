"""org.noos.System1 on a real bus: its answers, its errors; every service's shipped XML and keys."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import pytest
from dbus_fast import Variant, introspection

from noos import InvalidArgument, Model, NotFound, System
from noos.bus import Connection
from noos.protocol.interfaces import INTERFACE_KEYS
from noos.protocol.options import FIELD_ANNOTATION, OPTION_ANNOTATION
from noosd.runtime import HostOptions, Service, ServiceHost
from noosd.runtime.health_interface import HEALTH_INTERFACE
from noosd.runtime.registry import load_service, registered_services
from noosd.system.service import SystemService
from tests.fixtures import whoami_as
from tests.fixtures.image_release import DEBIAN_LOCK, IMAGE_VERSION

NOBODY = 65534


@pytest.mark.usefixtures("system_host")
async def test_it_answers_ping_version_and_who_am_i(connection: Connection) -> None:
    system = System(connection)
    assert await system.ping() == "pong"
    assert await system.version() == version("noosd")
    assert await system.whoami() == os.geteuid()


@pytest.mark.usefixtures("system_host")
async def test_it_says_which_build_of_the_image_it_runs_in(connection: Connection) -> None:
    system = System(connection)
    assert await system.image_version() == IMAGE_VERSION
    assert await system.debian_lock() == DEBIAN_LOCK


async def test_outside_a_noos_image_the_build_is_empty(
    bus_address: str, connection: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_OS_RELEASE", str(tmp_path / "no-os-release"))
    host = ServiceHost(SystemService.configured(), HostOptions(bus_address=bus_address))
    await host.start()
    try:
        system = System(connection)
        assert (await system.image_version(), await system.debian_lock()) == ("", "")
    finally:
        await host.stop()


@pytest.mark.usefixtures("system_host")
async def test_it_lists_the_valid_models(connection: Connection, models_dir: Path) -> None:
    assert await System(connection).models() == [
        Model("tiny-chat", "chat", str(models_dir / "tiny-chat" / "tiny.gguf")),
        Model("tiny-embedding", "embedding", str(models_dir / "tiny-embedding")),
    ]


@pytest.mark.usefixtures("system_host")
async def test_model_info_tells_all_about_one_model(
    connection: Connection, models_dir: Path
) -> None:
    assert await System(connection).model_info("tiny-chat") == {
        "name": "tiny-chat",
        "kind": "chat",
        "path": str(models_dir / "tiny-chat" / "tiny.gguf"),
        "format": "gguf",
        "source": "the tests",
        "licence": "CC0",
        "size": 100,
    }


@pytest.mark.usefixtures("system_host")
async def test_model_info_refuses_unknown_and_empty_names(connection: Connection) -> None:
    system = System(connection)
    with pytest.raises(NotFound, match="no model named 'broken'"):
        await system.model_info("broken")
    with pytest.raises(InvalidArgument, match="must not be empty"):
        await system.model_info("")
    assert await system.ping() == "pong"


async def test_without_a_models_directory_there_are_no_models(
    bus_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOOS_MODELS_DIR", str(tmp_path / "absent"))
    host = ServiceHost(SystemService.configured(), HostOptions(bus_address=bus_address))
    await host.start()
    try:
        async with await System.connect(bus_address) as system:
            assert await system.models() == []
    finally:
        await host.stop()


def _keep_state_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Services that keep state keep it here, not in the tester's home.
    monkeypatch.setenv("NOOS_MEMORY_STATE_DIR", str(tmp_path))
    # The index watches an empty directory, not /home, and no media.
    monkeypatch.setenv("NOOS_INDEX_STATE_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("NOOS_INDEX_ROOTS", str(tmp_path))
    monkeypatch.setenv("NOOS_INDEX_MEDIA_DIRS", "")
    monkeypatch.setenv("NOOS_SCHEDULER_STATE_DIR", str(tmp_path / "scheduler"))
    monkeypatch.setenv("NOOS_SCHEDULER_CATALOG_DIR", str(tmp_path / "models.d"))


@contextlib.asynccontextmanager
async def _served(service: Service, bus_address: str) -> AsyncIterator[None]:
    host = ServiceHost(service, HostOptions(bus_address=bus_address))
    await host.start()
    try:
        yield
    finally:
        await host.stop()


async def _live_interfaces(
    service: Service, bus_address: str, connection: Connection
) -> list[introspection.Interface]:
    """The service's noos interfaces as a client introspects them."""
    async with _served(service, bus_address):
        live = await connection.bus.introspect(service.bus_name, service.object_path)
    noos_interfaces = [i for i in live.interfaces if i.name.startswith("org.noos.")]
    assert noos_interfaces
    # Objects at paths of the service's choosing (a job each): as they introspect.
    return noos_interfaces + [i.introspect() for i in service.other_interfaces()]


@pytest.mark.parametrize("service_name", sorted(registered_services()))
async def test_the_shipped_interface_xml_matches_the_live_service(
    bus_address: str,
    connection: Connection,
    service_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _keep_state_in(tmp_path, monkeypatch)
    service = load_service(service_name).configured()
    noos_interfaces = await _live_interfaces(service, bus_address, connection)
    package = resources.files(type(service).__module__.rpartition(".")[0])
    for interface in noos_interfaces:
        # org.noos.Service1 is the runtime's, on every service: shipped once, by it.
        owner = resources.files("noosd.runtime") if interface.name == HEALTH_INTERFACE else package
        shipped = introspection.Node.parse((owner / f"{interface.name}.xml").read_text())
        assert [describe(i) for i in shipped.interfaces] == [describe(interface)], (
            f"regenerate with: noosd {service_name} --write-interfaces DIR"
        )


@pytest.mark.parametrize("service_name", sorted(registered_services()))
async def test_the_live_introspection_names_every_key_of_every_option_table(
    bus_address: str,
    connection: Connection,
    service_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _keep_state_in(tmp_path, monkeypatch)
    service = load_service(service_name).configured()
    for interface in await _live_interfaces(service, bus_address, connection):
        keys = INTERFACE_KEYS[interface.name]
        methods = {method.name: method for method in interface.methods}
        for (member, argument), table in keys.arguments.items():
            (arg,) = [arg for arg in methods[member].in_args if arg.name == argument]
            assert arg.annotations == table.annotations(OPTION_ANNOTATION), (member, argument)
        sent = {
            **{method.name: method.out_args for method in interface.methods},
            **{signal.name: signal.args for signal in interface.signals},
        }
        properties = {prop.name: prop for prop in interface.properties}
        for member, table in keys.replies.items():
            wanted = table.annotations(FIELD_ANNOTATION)
            if member in properties:
                annotations = properties[member].annotations
                assert {k: v for k, v in annotations.items() if k in wanted} == wanted, member
            else:
                assert [arg.annotations for arg in sent[member]] == [wanted], member
        for option in {option for table in keys.arguments.values() for option in table}:
            assert option.meaning and option.signature, option


@pytest.mark.parametrize("service_name", sorted(registered_services()))
async def test_an_unknown_key_is_refused_with_the_keys_there_are(
    bus_address: str,
    connection: Connection,
    service_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _keep_state_in(tmp_path, monkeypatch)
    service = load_service(service_name).configured()
    blank = {"s": "", "u": 1, "b": False, "as": [], "a{sv}": {}}
    async with _served(service, bus_address):
        for interface in service.interfaces():
            keys = INTERFACE_KEYS[interface.name]
            methods = {method.name: method for method in interface.introspect().methods}
            for (member, argument), table in keys.arguments.items():
                method = methods[member]
                body = [
                    {"no_such_key": Variant("s", "?")}
                    if arg.name == argument
                    else blank[arg.signature]
                    for arg in method.in_args
                ]
                with pytest.raises(InvalidArgument) as refused:
                    await connection.call(
                        service.bus_name,
                        service.object_path,
                        interface.name,
                        member,
                        method.in_signature,
                        body,
                    )
                known = ", ".join(sorted(table.names()))
                assert f"unknown {table.what} 'no_such_key' (known: {known})" in str(refused.value)


def describe(interface: introspection.Interface) -> dict[str, object]:
    """What clients rely on: the members' names and signatures, and what the
    annotations say of them and of each a{sv}'s keys."""
    return {
        "name": interface.name,
        "methods": sorted(
            (
                m.name,
                m.in_signature,
                m.out_signature,
                sorted(m.annotations.items()),
                _annotations(m.in_args + m.out_args),
            )
            for m in interface.methods
        ),
        "properties": sorted(
            (p.name, p.signature, p.access.value, sorted(p.annotations.items()))
            for p in interface.properties
        ),
        "signals": sorted(
            (s.name, s.signature, sorted(s.annotations.items()), _annotations(s.args))
            for s in interface.signals
        ),
    }


def _annotations(args: list[introspection.Arg]) -> list[list[tuple[str, str]]]:
    return [sorted(arg.annotations.items()) for arg in args]


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
@pytest.mark.usefixtures("noosd_system")
def test_who_am_i_is_the_uid_the_bus_knows_not_the_caller_s_claim(bus_address: str) -> None:
    answers = subprocess.run(
        [sys.executable, whoami_as.__file__, str(NOBODY), bus_address],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert answers == ["0", str(NOBODY)]
