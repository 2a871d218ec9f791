"""The wire contract of org.noos.System1: what is this noos, and who am I to it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant

from noos.protocol.options import InterfaceKeys, Option, OptionTable, plain

BUS_NAME = "org.noos.System1"
OBJECT_PATH = "/org/noos/System1"
INTERFACE = "org.noos.System1"

MODELS_SIGNATURE = "a(sss)"

MODEL_INFO = OptionTable(
    "field",
    Option("name", "s", "the model's name"),
    Option("kind", "s", "chat, base or embedding"),
    Option("path", "s", "where its files are"),
    Option("format", "s", "the format of its weights (gguf, onnx)"),
    Option("source", "s", "where it was downloaded from"),
    Option("licence", "s", "the licence it is shipped under"),
    Option("size", "t", "bytes its files take"),
)

KEYS = InterfaceKeys(INTERFACE, arguments={}, replies={"ModelInfo": MODEL_INFO})

ModelFields = tuple[str, str, str]


@dataclass(frozen=True)
class Model:
    """A model that the system ships: its name, kind (chat, base, embedding), path."""

    name: str
    kind: str
    path: str


def model_of(fields: Iterable[Any]) -> Model:
    """A Model from one struct of the Models property."""
    name, kind, path = fields
    return Model(name, kind, path)


def model_struct(model: Model) -> ModelFields:
    return (model.name, model.kind, model.path)


def model_info_dict(info: Mapping[str, Any]) -> dict[str, Variant]:
    """ModelInfo's answer, from the plain values of MODEL_INFO's keys."""
    return MODEL_INFO.encode(info)


def model_info_of(values: Mapping[str, Variant]) -> dict[str, Any]:
    return plain(values)
