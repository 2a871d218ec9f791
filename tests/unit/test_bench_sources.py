"""The benchmarks' caches are keyed by the source files that decide their state:
a file moved or renamed must not break the key (a bench then fails after an
hour of set-up, as index_search did when the index's rooms were made)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOOSD = REPO / "services" / "src" / "noosd"


def test_every_module_an_index_search_cache_is_keyed_by_exists() -> None:
    tree = ast.parse((REPO / "tests" / "bench" / "index_search.py").read_text())
    listed = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "STATE_MODULES" for t in node.targets)
    )
    missing = [name for name in listed if not (NOOSD / name).is_file()]
    assert not missing, missing
