"""The model catalog: the models the scheduler may run, read from TOML files.

Every `*.toml` under the catalog directory (`/etc/noos/models.d/`), read in
name order, declares one or more models:

    [[model]]
    name = "gemma-3-1b"              # [a-z0-9][a-z0-9._-]*, unique across the files
    backend = "llama-cpp"            # or "openai": an OpenAI-compatible HTTP server
    path = "/usr/share/noos/models/gemma-3-1b/model.gguf"   # llama-cpp: absolute
    # endpoint = "http://127.0.0.1:8080/v1"                 # openai: its base URL
    # remote_model = "Qwen/Qwen3-8B"                        # openai, optional: the name the
                                                            # server knows it by (else name)
    context_length = 8192            # tokens, fixed when the model loads
    chat_template = "embedded"       # optional: "embedded" (the model's, or the
                                     # server's, own), a llama.cpp chat format name
                                     # ("chatml"), or an absolute path to a Jinja file
    ram_bytes = 1_200_000_000        # resident RAM, estimated: weights and KV of all slots
    vram_bytes = 0                   # optional
    load_seconds = 2.5               # optional; else estimated from the size
    priority = "normal"              # optional: the class of jobs that ask for none
    pinned = false                   # optional: loaded at start, never evicted
    slots = 1                        # optional: the jobs it runs at once
    threads = 2                      # optional: CPU threads per running job
                                     # (llama-cpp 1; openai 0: it computes elsewhere)
    default = true                   # optional: the model of jobs that ask for "default"

A key the catalog does not know is an error, so that a typo (`pined = true`)
never passes silently. There are no sampling settings: they belong to each
job, and changing them never reloads a model.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from noos.protocol.errors import InvalidArgument, NotFound
from noosd.scheduler.core.jobs import DEFAULT_MODEL, Priority

DEFAULT_CATALOG_DIR = Path("/etc/noos/models.d")
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
CHAT_FORMAT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMBEDDED_TEMPLATE = "embedded"
# What a load reads per second, to estimate a model's load time from its size
# when its entry gives none: mmap of a GGUF from an SSD, less page-in overhead.
ASSUMED_LOAD_BYTES_PER_S = 250e6


class Backend(StrEnum):
    LLAMA_CPP = "llama-cpp"
    OPENAI = "openai"


class TemplateSource(StrEnum):
    EMBEDDED = "embedded"
    NAMED = "named"
    FILE = "file"


@dataclass(frozen=True)
class ChatTemplate:
    source: TemplateSource
    # The format's name, or the file's path; empty when embedded.
    value: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backend: Backend
    # The GGUF file (llama-cpp) or the server's base URL (openai).
    location: str
    context_length: int
    chat_template: ChatTemplate
    ram_bytes: int
    vram_bytes: int
    load_seconds: float
    priority: Priority
    pinned: bool
    slots: int
    threads: int
    default: bool
    # The file that declared it, for messages.
    source: str = ""
    # The name an openai endpoint serves the model under.
    remote_model: str = ""
    # The layers llama.cpp offloads to a GPU (-1: all; 0: none, the CPU). Not
    # a catalog key: the service decides it from the accelerators it finds.
    gpu_layers: int = 0


_KEYS = frozenset(
    {
        "name",
        "backend",
        "path",
        "endpoint",
        "context_length",
        "chat_template",
        "ram_bytes",
        "vram_bytes",
        "load_seconds",
        "priority",
        "pinned",
        "slots",
        "threads",
        "default",
        "remote_model",
    }
)


class _Entry:
    """One `[[model]]` table, read with messages that name its file and field."""

    def __init__(self, table: Mapping[str, object], where: str) -> None:
        self.table = table
        self.where = where

    def fail(self, key: str, problem: str) -> InvalidArgument:
        return InvalidArgument(f"{self.where}: {key}: {problem}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.table.get(key, default)
        if value is None:
            raise self.fail(key, "missing")
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {value!r}")
        return value

    def integer(self, key: str, default: int | None = None, minimum: int = 0) -> int:
        value = self.table.get(key, default)
        if value is None:
            raise self.fail(key, "missing")
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}, not {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.table.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value >= 0)
        ):
            raise self.fail(key, f"must be a number >= 0, not {value!r}")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value


def _location(entry: _Entry, backend: Backend) -> str:
    wanted, unwanted = (
        ("path", "endpoint") if backend is Backend.LLAMA_CPP else ("endpoint", "path")
    )
    if unwanted in entry.table:
        raise entry.fail(unwanted, f"not for {backend} models; give the {wanted}")
    value = entry.text(wanted)
    if backend is Backend.LLAMA_CPP:
        if not PurePosixPath(value).is_absolute():
            raise entry.fail("path", f"must be an absolute path, not {value!r}")
        return value
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise entry.fail("endpoint", f"must be an http:// or https:// URL, not {value!r}")
    return value


def _remote_model(entry: _Entry, backend: Backend, name: str) -> str:
    if backend is Backend.LLAMA_CPP:
        if "remote_model" in entry.table:
            raise entry.fail("remote_model", "only for openai models")
        return ""
    return entry.text("remote_model", name)


def _chat_template(entry: _Entry) -> ChatTemplate:
    value = entry.text("chat_template", EMBEDDED_TEMPLATE)
    if value == EMBEDDED_TEMPLATE:
        return ChatTemplate(TemplateSource.EMBEDDED)
    if PurePosixPath(value).is_absolute():
        return ChatTemplate(TemplateSource.FILE, value)
    if CHAT_FORMAT_NAME.fullmatch(value):
        return ChatTemplate(TemplateSource.NAMED, value)
    raise entry.fail(
        "chat_template",
        f"must be {EMBEDDED_TEMPLATE!r}, a chat format name or an absolute path, not {value!r}",
    )


def _model(table: Mapping[str, object], where: str, source: str) -> ModelSpec:
    entry = _Entry(table, where)
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise entry.fail(unknown[0], f"unknown key; the keys are {', '.join(sorted(_KEYS))}")
    name = entry.text("name")
    if not MODEL_NAME.fullmatch(name) or name == DEFAULT_MODEL:
        raise entry.fail(
            "name", f"must match {MODEL_NAME.pattern} and not be {DEFAULT_MODEL!r}: {name!r}"
        )
    entry.where = f"{where} ({name})"
    try:
        backend = Backend(entry.text("backend"))
    except ValueError:
        choices = ", ".join(b.value for b in Backend)
        raise entry.fail("backend", f"must be one of {choices}") from None
    local = backend is Backend.LLAMA_CPP
    ram_bytes = entry.integer("ram_bytes")
    vram_bytes = entry.integer("vram_bytes", 0)
    try:
        priority = Priority.parse(entry.text("priority", Priority.NORMAL.name.lower()))
    except InvalidArgument as error:
        raise entry.fail("priority", str(error)) from None
    return ModelSpec(
        name=name,
        backend=backend,
        location=_location(entry, backend),
        context_length=entry.integer("context_length", minimum=1),
        chat_template=_chat_template(entry),
        ram_bytes=ram_bytes,
        vram_bytes=vram_bytes,
        load_seconds=entry.number(
            "load_seconds", (ram_bytes + vram_bytes) / ASSUMED_LOAD_BYTES_PER_S
        ),
        priority=priority,
        pinned=entry.flag("pinned"),
        slots=entry.integer("slots", 1, minimum=1),
        threads=entry.integer("threads", 1 if local else 0, minimum=1 if local else 0),
        default=entry.flag("default"),
        source=source,
        remote_model=_remote_model(entry, backend, name),
    )


def parse_models(text: str, source: str) -> list[ModelSpec]:
    """The models one catalog file declares; `source` names it in messages."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidArgument(f"{source}: not valid TOML: {error}") from None
    extra = sorted(set(document) - {"model"})
    if extra:
        raise InvalidArgument(f"{source}: {extra[0]}: unknown table; declare models as [[model]]")
    tables = document.get("model", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InvalidArgument(f"{source}: model: declare models as [[model]] tables")
    return [_model(table, f"{source}: model {i + 1}", source) for i, table in enumerate(tables)]


class Catalog:
    """The models by name, and the default one."""

    def __init__(self, models: Iterable[ModelSpec]) -> None:
        self._models: dict[str, ModelSpec] = {}
        for model in models:
            if model.name in self._models:
                first = self._models[model.name].source
                raise InvalidArgument(
                    f"{model.source}: model {model.name!r} is declared again (first in {first})"
                )
            self._models[model.name] = model
        defaults = [m for m in self._models.values() if m.default]
        if len(defaults) > 1:
            names = ", ".join(f"{m.name} ({m.source})" for m in defaults)
            raise InvalidArgument(f"more than one default model: {names}")
        # Without a marked default, a catalog of one model needs none.
        if defaults:
            self.default: ModelSpec | None = defaults[0]
        else:
            self.default = next(iter(self._models.values())) if len(self._models) == 1 else None

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(sorted(self._models.values(), key=lambda m: m.name))

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def replaced(self, model: ModelSpec) -> Catalog:
        """This catalog with the entry of the same name replaced by `model`."""
        self.get(model.name)
        return Catalog(model if m.name == model.name else m for m in self)

    def get(self, name: str) -> ModelSpec:
        """The model called `name`, or the default for "default"."""
        if name == DEFAULT_MODEL:
            if self.default is None:
                raise NotFound("there is no default model: mark one with default = true")
            return self.default
        try:
            return self._models[name]
        except KeyError:
            raise NotFound(f"there is no model {name!r}") from None


def load_catalog(directory: Path = DEFAULT_CATALOG_DIR) -> Catalog:
    """The catalog the `*.toml` files of `directory` declare; empty without any."""
    files = sorted(directory.glob("*.toml"))
    models: list[ModelSpec] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidArgument(f"{file}: unreadable: {error}") from None
        models.extend(parse_models(text, str(file)))
    return Catalog(models)
