"""The layers of noosd, checked on the source: what each room may import.

docs/architecture.md draws the rooms; these rules keep the drawing true. Each
failure lists the module that broke a rule and what it imported, so it says
what to move. Imports made only for type checking count too: a core that
names a facade's type has that facade's layer in its head.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "services" / "src"
SERVICES = ("index", "memory", "scheduler", "system")
# The only files of a service that speak D-Bus: its front door.
FRONT_DOOR = ("service.py", "interface.py")
# What a pure core may not touch: threads, processes, databases, the bus, devices.
IMPURE = ("threading", "subprocess", "sqlite3", "chromadb", "dbus_fast", "pyudev", "socket")
# The shared kit's pure parts, which a core may use: arithmetic on arrays.
PURE_SHARED = (
    "noosd.shared.quantize",
    "noosd.shared.arrays",
    "noosd.shared.matrix",
    "noosd.shared.lexical",
    "noosd.shared.ranking",
)
MOST_MODULES_PER_FOLDER = 12


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    file: str  # its file, for the report
    imported: str  # what it imports, dotted


def modules(source: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(source.rglob("*.py")):
        parts = path.relative_to(source).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def imports_of(module: str, path: Path, source: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    file = str(path.relative_to(source))
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, file, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield Import(module, file, base)
            # `from noosd.memory.core import scoring` imports noosd.memory.core.scoring.
            for alias in node.names:
                yield Import(module, file, f"{base}.{alias.name}")


def service_of(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "noosd" and parts[1] in SERVICES else None


def under(dotted: str, package: str) -> bool:
    return dotted == package or dotted.startswith(package + ".")


def top(dotted: str) -> str:
    return dotted.split(".")[0]


def pure_shared(dotted: str) -> bool:
    return any(under(dotted, pure) for pure in PURE_SHARED)


# Each rule: the imports that break it.
def sibling_services(found: Import) -> bool:
    mine, theirs = service_of(found.module), service_of(found.imported)
    return mine is not None and theirs not in (None, mine)


def kit_or_runtime_using_a_service(found: Import) -> bool:
    kit = under(found.module, "noosd.shared") or under(found.module, "noosd.runtime")
    return kit and service_of(found.imported) is not None


def core_reaching_up(found: Import) -> bool:
    service = service_of(found.module)
    if service is None or not under(found.module, f"noosd.{service}.core"):
        return False
    if top(found.imported) in IMPURE:
        return True
    if under(found.imported, "noosd"):
        return not (under(found.imported, f"noosd.{service}.core") or pure_shared(found.imported))
    return under(found.imported, "noos") and not under(found.imported, "noos.protocol")


def impure_shared_kit(found: Import) -> bool:
    if not pure_shared(found.module):
        return False
    return top(found.imported) in IMPURE or (
        under(found.imported, "noosd") and not pure_shared(found.imported)
    )


def dbus_behind_the_front_door(found: Import) -> bool:
    return (
        service_of(found.module) is not None
        and Path(found.file).name not in FRONT_DOOR
        and top(found.imported) == "dbus_fast"
    )


def client_in_a_service(found: Import) -> bool:
    """The services and their kit speak the protocol; only the runtime (and
    the `noosd` command) share the SDK's connection plumbing."""
    service_side = service_of(found.module) is not None or under(found.module, "noosd.shared")
    return (
        service_side
        and under(found.imported, "noos")
        and not under(found.imported, "noos.protocol")
    )


RULES: dict[str, Callable[[Import], bool]] = {
    "a service imports another service": sibling_services,
    "noosd.shared or noosd.runtime imports a service": kit_or_runtime_using_a_service,
    "a core imports something above it, or I/O": core_reaching_up,
    "a pure module of noosd.shared imports I/O or the rest of noosd": impure_shared_kit,
    "a service module behind the front door imports dbus_fast": dbus_behind_the_front_door,
    "a service imports the SDK's client, not noos.protocol": client_in_a_service,
}

ALL_IMPORTS = [found for m, path in modules(SOURCE) for found in imports_of(m, path, SOURCE)]


@pytest.mark.parametrize("rule", RULES)
def test_the_tree_keeps_the_rule(rule: str) -> None:
    broken = [found for found in ALL_IMPORTS if RULES[rule](found)]
    report = "\n  ".join(f"{found.file}: imports {found.imported}" for found in broken)
    assert not broken, f"{rule}:\n  {report}"


# Each rule, shown one import that breaks it: a rule that matches nothing passes
# on any tree, so each must catch its own kind of mistake.
BREAKING = {
    "a service imports another service": Import(
        "noosd.index.store", "noosd/index/store.py", "noosd.memory.store"
    ),
    "noosd.shared or noosd.runtime imports a service": Import(
        "noosd.runtime.host", "noosd/runtime/host.py", "noosd.index.engine"
    ),
    "a core imports something above it, or I/O": Import(
        "noosd.memory.core.scoring", "noosd/memory/core/scoring.py", "noosd.memory.interface"
    ),
    "a pure module of noosd.shared imports I/O or the rest of noosd": Import(
        "noosd.shared.matrix", "noosd/shared/matrix.py", "noosd.shared.sqlite"
    ),
    "a service module behind the front door imports dbus_fast": Import(
        "noosd.scheduler.engine", "noosd/scheduler/engine.py", "dbus_fast.service"
    ),
    "a service imports the SDK's client, not noos.protocol": Import(
        "noosd.memory.interface", "noosd/memory/interface.py", "noos.memory"
    ),
}
ALLOWED = [
    Import("noosd.memory.core.codec", "noosd/memory/core/codec.py", "noosd.shared.quantize"),
    Import("noosd.memory.core.scoring", "noosd/memory/core/scoring.py", "noos.protocol.errors"),
    Import("noosd.index.interface", "noosd/index/interface.py", "dbus_fast.service"),
    Import("noosd.runtime.host", "noosd/runtime/host.py", "noos.bus"),
    Import("noosd.index.store", "noosd/index/store.py", "noosd.shared.embedding"),
]


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_catches_what_breaks_it(rule: str) -> None:
    assert RULES[rule](BREAKING[rule])
    assert [found for found in ALLOWED if RULES[rule](found)] == []


def test_a_core_importing_threads_breaks_its_rule() -> None:
    threads = Import("noosd.scheduler.core.machine", "x.py", "threading")
    assert core_reaching_up(threads)


def test_the_walk_sees_every_service() -> None:
    assert {service_of(found.module) for found in ALL_IMPORTS} >= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_no_folder_is_crowded(service: str) -> None:
    root = SOURCE / "noosd" / service
    crowded = {
        str(folder.relative_to(SOURCE)): count
        for folder in [root, *root.iterdir()]
        if folder.is_dir()
        and (count := len([p for p in folder.glob("*.py") if p.name != "__init__.py"]))
        > MOST_MODULES_PER_FOLDER
    }
    assert not crowded, f"folders of over {MOST_MODULES_PER_FOLDER} modules: {crowded}"
