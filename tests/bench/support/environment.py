"""Where the memory benchmarks find the model and keep what they cache.

The machine has 2 shared cores: the embedder (ONNX Runtime, or torch) gets one
thread, in this process and in the noosd it starts, so a baseline and the
service embed at the same speed and the bus, dbus-daemon and the client keep
the other core.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tests.fixtures.models import shipped_models_tree

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

REPO = Path(__file__).resolve().parents[3]
CACHE_ROOT = REPO / "build" / "bench-cache"
EMBEDDING_MODEL = "all-minilm-l6-v2"
EMBEDDING_THREADS = 1
# Set before torch is imported, by whoever imports this module first.
QUIET_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": str(EMBEDDING_THREADS),
    # numpy's BLAS: two threads on two shared cores make a 1 ms search 24 ms.
    "OPENBLAS_NUM_THREADS": "1",
}
os.environ.update(QUIET_ENVIRONMENT)


def models_tree() -> Path:
    """The models tree the image ships, staged once and cached outside the repo."""
    return shipped_models_tree()


def embedding_model_dir() -> Path:
    return models_tree() / EMBEDDING_MODEL


def source_digest(paths: Iterable[Path]) -> str:
    """A short digest of files' contents: a cache of what they wrote goes stale with them."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# The front door, the store's runner and the settings write no state: changing
# them keeps a populated state valid.
FACADE = frozenset({"interface.py", "service.py", "engine.py", "settings.py"})


# The shared modules whose code decides what the memory store writes.
STORE_SHARED = ("outbox.py", "quantize.py")


def store_digest() -> str:
    """The memory store's code: its on-disk state is only reusable by the same code."""
    core = (REPO / "services/src/noosd/memory").rglob("*.py")
    shared = REPO / "services/src/noosd/shared"
    return source_digest(
        [path for path in core if path.name not in FACADE]
        + [shared / name for name in STORE_SHARED]
    )


class CachedDirectory:
    """A directory under build/bench-cache/ that counts only once it is complete.

    A run killed half-way leaves no marker, so the next one starts over rather
    than trusting a half-populated state.
    """

    MARKER = ".complete"

    def __init__(self, name: str) -> None:
        self.path = CACHE_ROOT / name

    @property
    def complete(self) -> bool:
        return (self.path / self.MARKER).exists()

    def start(self) -> Path:
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        return self.path

    def finish(self) -> None:
        (self.path / self.MARKER).touch()


def directory_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def chroma_client(path: Path) -> ClientAPI:
    """An embedded chromadb client at `path`, telemetry off."""
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
    )


@contextlib.contextmanager
def scratch_copy(state: Path) -> Iterator[Path]:
    """A copy of a cached state that a run may change (opening reconciles chromadb)."""
    with tempfile.TemporaryDirectory(dir=CACHE_ROOT, prefix="scratch-") as scratch:
        copy = Path(scratch) / "state"
        shutil.copytree(state, copy)
        yield copy
