"""Compact text tables: the first column left-aligned, the others right-aligned."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def render(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        first, *rest = row
        line = first.ljust(widths[0]) + "".join(
            f"  {cell.rjust(width)}" for cell, width in zip(rest, widths[1:], strict=True)
        )
        lines.append(line.rstrip())
    return "\n".join(lines)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(title)
    print(render(header, rows), flush=True)


def percentile_ms(samples: Sequence[float], q: int) -> float:
    """The q-th percentile of durations in seconds, in milliseconds."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1e3


def verdict(met: bool) -> str:
    return "met" if met else "NOT MET"
