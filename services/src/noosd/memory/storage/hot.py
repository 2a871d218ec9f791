"""The hot tier: float32 vectors in RAM, searched exhaustively, on a GPU if there is one.

At a thousand rows numpy takes ~0.05 ms; a GPU only pays off with a larger
hot tier, but costs nothing to use when torch has one (a sentence-transformers
embedder loaded torch already). The GPU keeps a copy of the matrix, refreshed
on the first search after a change.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from noosd.memory.core.codec import Matrix
from noosd.shared.matrix import IdArray, Mask, VectorMatrix

if TYPE_CHECKING:
    import torch


def gpu_device() -> str | None:
    """'cuda' when torch is already imported and sees a GPU, else None.

    Never imports torch itself: that takes seconds (a minute in a TCG guest),
    and the ONNX embedder (noosd.shared.embedding) runs without it.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return "cuda" if torch.cuda.is_available() else None


class HotIndex(VectorMatrix):
    """float32 rows in RAM; with a torch `device`, searched there."""

    def __init__(self, dim: int, device: str | None = None) -> None:
        super().__init__(dim, quantized=False)
        self.device = device
        self._copy: torch.Tensor | None = None
        self._copy_version = -1

    def top(self, queries: Matrix, k: int, mask: Mask | None = None) -> tuple[IdArray, Matrix]:
        if self.device is None or len(self) == 0 or mask is not None:
            return super().top(queries, k, mask)
        import torch

        if self._copy is None or self._copy_version != self.version:
            self._copy = torch.from_numpy(self.dense()).to(self.device)
            self._copy_version = self.version
        sims = torch.from_numpy(np.ascontiguousarray(queries)).to(self.device) @ self._copy.T
        values, rows = torch.topk(sims, k=min(k, len(self)), dim=1)
        return self.ids[rows.cpu().numpy()], values.cpu().numpy().astype(np.float32)
