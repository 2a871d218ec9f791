"""The models the system ships, found under the models directory.

Each model lives in a directory of its own holding a `model.toml` manifest:

    name = "smollm2-135m-instruct"    # optional: the directory's name
    kind = "chat"                     # "chat", "base" or "embedding"
    file = "model.gguf"               # the model, relative to the directory ("." for it)
    format = "gguf"                   # optional, like source and licence
    onnx = "onnx/model.onnx"          # optional: an embedding model's ONNX export
                                      # (read by noosd.shared.embedding)

A directory without a readable, valid manifest, or whose file is missing, is
skipped with a warning: a model that no one can tell how to load is of no use.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from noosd.runtime.settings import PATH, Setting

DEFAULT_MODELS_DIR = Path("/usr/share/noos/models")
# One setting in the table of each service that reads the models.
MODELS_DIR = Setting(
    "models_dir",
    PATH,
    DEFAULT_MODELS_DIR,
    "NOOS_MODELS_DIR",
    "the shipped models: a directory each, holding a model.toml",
)
MANIFEST = "model.toml"
KINDS = frozenset({"chat", "base", "embedding"})

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Model:
    name: str
    kind: str
    path: Path
    format: str = ""
    source: str = ""
    licence: str = ""

    def size(self) -> int:
        """Bytes on disk: the file's, or the sum of a directory's files."""
        if self.path.is_dir():
            return sum(file.stat().st_size for file in self.path.rglob("*") if file.is_file())
        return self.path.stat().st_size


class InvalidManifest(ValueError):
    pass


def find_models(directory: Path) -> list[Model]:
    """The valid models under `directory`, by name; none if it does not exist."""
    try:
        candidates = sorted(path for path in directory.iterdir() if path.is_dir())
    except OSError:
        return []
    models = []
    for model_dir in candidates:
        try:
            models.append(read_manifest(model_dir))
        except (OSError, InvalidManifest, tomllib.TOMLDecodeError) as error:
            _log.warning("skipping the model in %s: %s", model_dir, error)
    return sorted(models, key=lambda model: model.name)


def read_manifest(model_dir: Path) -> Model:
    with (model_dir / MANIFEST).open("rb") as manifest:
        fields = tomllib.load(manifest)
    text = {key: value for key, value in fields.items() if isinstance(value, str)}
    kind = text.get("kind", "")
    if kind not in KINDS:
        raise InvalidManifest(f"kind {kind!r} is none of {', '.join(sorted(KINDS))}")
    if "file" not in text:
        raise InvalidManifest("it names no file")
    path = Path(os.path.normpath(model_dir / text["file"]))
    if not path.exists():
        raise InvalidManifest(f"its file {path} does not exist")
    return Model(
        name=text.get("name") or model_dir.name,
        kind=kind,
        path=path,
        format=text.get("format", ""),
        source=text.get("source", ""),
        licence=text.get("licence", ""),
    )
