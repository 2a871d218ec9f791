"""The shipped embedding model behind the `Embedder` protocol: ONNX Runtime, and
sentence-transformers as the reference and the fallback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from noosd.shared.embedding import (
    Embedder,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
    onnx_file,
)
from noosd.shared.models import MANIFEST
from tests.fixtures.models import shipped_models_tree

REPO = Path(__file__).resolve().parents[3]
MODEL = "all-minilm-l6-v2"
# Far more than the 256 word pieces MiniLM reads.
LONG = " ".join(f"On day {n} the nightly backup of atlas copied {n * 41} files." for n in range(60))
TEXTS = [
    "",
    "keys",
    "where did I put the spare key?",
    "the spare key hangs behind the calendar",
    "Dentist moved to THURSDAY 9:30, bring the insurance card!",
    "sudo systemctl restart noosd@memory.service",
    "for (int i = 0; i < n; ++i) { total += xs[i]; }",
    "La clé est derrière le calendrier.",
    "鑰匙在日曆後面",
    "📅 tomorrow: call mum about the 🎂",
    LONG,
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return shipped_models_tree() / MODEL


@pytest.fixture(scope="module")
def onnx(model_dir: Path) -> OnnxEmbedder:
    embedder = load_embedder(model_dir)
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


@pytest.fixture(scope="module")
def reference(model_dir: Path) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model_dir)


@pytest.fixture
def without_export(model_dir: Path, tmp_path: Path) -> Path:
    """The model's files, linked, and a manifest that names no ONNX export."""
    copy = tmp_path / MODEL
    for path in model_dir.rglob("*"):
        if path.is_file() and "onnx" not in path.relative_to(model_dir).parts:
            (copy / path.relative_to(model_dir)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(model_dir)).symlink_to(path)
    manifest = copy / MANIFEST
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.unlink()
    manifest.write_text("".join(line for line in lines if not line.startswith("onnx")))
    return copy


@pytest.mark.parametrize("name", ["onnx", "reference"])
def test_minilm_embeds_texts_as_unit_vectors_of_384_floats(
    name: str, request: pytest.FixtureRequest
) -> None:
    protocol: Embedder = request.getfixturevalue(name)

    vectors = protocol.embed(["the cat sat on the mat", "a kitten rests on a rug", "tax forms"])

    assert protocol.dim == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    assert protocol.embed([]).shape == (0, 384)


def test_onnx_gives_sentence_transformers_vectors(
    onnx: OnnxEmbedder, reference: SentenceTransformerEmbedder
) -> None:
    cosines = np.sum(onnx.embed(TEXTS) * reference.embed(TEXTS), axis=1)

    # The issue allows 0.98; the export is within 1e-6 of 1.
    assert cosines.min() >= 0.98, dict(zip(TEXTS, cosines.tolist(), strict=True))


def test_padding_in_a_batch_changes_no_vector(onnx: OnnxEmbedder) -> None:
    together = onnx.embed(TEXTS)
    alone = np.concatenate([onnx.embed([text]) for text in TEXTS])

    np.testing.assert_allclose(np.sum(together * alone, axis=1), 1.0, atol=1e-5)


def test_only_the_first_256_word_pieces_count(onnx: OnnxEmbedder) -> None:
    # tokenizer.json itself truncates at 128: the embedder must read 256, as
    # sentence-transformers does (max_seq_length).
    prefix = " ".join(["fine"] * 150)
    within = onnx.embed([f"{prefix} the boat sank", f"{prefix} the cake rose"])
    prefix = " ".join(["fine"] * 300)
    beyond = onnx.embed([f"{prefix} the boat sank", f"{prefix} the cake rose"])

    assert float(within[0] @ within[1]) < 0.999
    assert float(beyond[0] @ beyond[1]) == pytest.approx(1.0, abs=1e-6)


def test_the_loader_picks_the_export_the_manifest_names(model_dir: Path) -> None:
    assert onnx_file(model_dir) == model_dir / "onnx" / "model.onnx"
    assert isinstance(load_embedder(model_dir), OnnxEmbedder)


def test_without_an_export_the_loader_falls_back_to_sentence_transformers(
    without_export: Path,
) -> None:
    embedder = load_embedder(without_export)

    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.embed(["the spare key"]).shape == (1, 384)


def test_the_onnx_embedder_loads_lazily_and_never_imports_torch(model_dir: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from noosd.shared.embedding import SentenceTransformerEmbedder, load_embedder
model_dir = Path({str(model_dir)!r})
embedder = load_embedder(model_dir)
# Constructing either, or asking its dimension, loads nothing.
assert embedder.dim == SentenceTransformerEmbedder(model_dir).dim == 384
assert not {{"onnxruntime", "torch"}} & set(sys.modules)
assert embedder.embed(["where is the key?"]).shape == (1, 384)
heavy = sorted({{"torch", "transformers", "sentence_transformers"}} & set(sys.modules))
assert not heavy, heavy
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO, timeout=120)


# A process that embeds, then reports how much of the mapped weights file it
# shares with other processes, and waits for a line on stdin before exiting.
EMBED_AND_REPORT = """
import json, sys
from pathlib import Path
from noosd.shared.embedding import load_embedder
model_dir = Path(sys.argv[1])
embedder = load_embedder(model_dir)  # kept: the mapping lives as long as it
embedder.embed(["the weights are mapped, not copied"])
mapping, fields = None, {}
for line in Path("/proc/self/smaps").read_text().splitlines():
    head = line.split()
    if "-" in head[0] and not head[0].endswith(":"):
        mapping = head[-1] if head[-1].endswith("model.weights") else None
    elif mapping is not None and line.endswith(" kB"):
        fields[head[0].rstrip(":")] = fields.get(head[0].rstrip(":"), 0) + int(head[1]) * 1024
print(json.dumps(fields), flush=True)
sys.stdin.readline()
"""


def test_two_processes_that_embed_share_one_copy_of_the_weights(model_dir: Path) -> None:
    weights = (model_dir / "onnx" / "model.weights").stat().st_size
    command = [sys.executable, "-c", EMBED_AND_REPORT, str(model_dir)]
    first = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    second = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert first.stdout is not None and second.stdout is not None
        reports = [json.loads(first.stdout.readline()), json.loads(second.stdout.readline())]
    finally:
        for process in (first, second):
            process.communicate(b"\n", timeout=60)
    for mapped in reports:
        # The weights are mapped from their file (all but the rows of the token
        # embedding table that no text used are read: over a third of it)...
        assert mapped.get("Size", 0) >= 0.9 * weights, mapped
        assert mapped["Rss"] >= weights / 3, mapped
        # ...and what both processes read is in RAM once: shared, not private.
        shared = mapped["Shared_Clean"] + mapped["Shared_Dirty"]
        assert shared >= 0.95 * mapped["Rss"], mapped
