"""`make bench`: run every benchmark module of tests/bench/, one after another.

    python -m tests.bench                   # all of them
    python -m tests.bench runtime memory_locomo   # only these, in this order

Every top-level module here is a benchmark with a `main()`; shared helpers live
in the `support` package. Modules are imported only when run, so a quick one
never waits for torch. Each prints its own table of figures against a baseline
measured in the same run. One that fails (on import too) is reported and the
rest still run, so a broken benchmark costs its own figures only; the exit
status says so.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path


def benchmarks() -> list[str]:
    modules = pkgutil.iter_modules([str(Path(__file__).parent)])
    return sorted(m.name for m in modules if not m.ispkg and not m.name.startswith("_"))


def run_one(name: str) -> None:
    main: Callable[[], None] = importlib.import_module(f"{__package__}.{name}").main
    main()


def run(names: list[str]) -> int:
    available = benchmarks()
    unknown = [name for name in names if name not in available]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(available)}")
        return 2
    failed = []
    started = time.monotonic()
    for name in names or list(available):
        print(f"\n=== {name} ===", flush=True)
        start = time.monotonic()
        try:
            run_one(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        print(f"--- {name}: {time.monotonic() - start:.0f} s", flush=True)
    print(f"\nbench: {time.monotonic() - started:.0f} s in all", end="")
    print(f"; FAILED: {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
