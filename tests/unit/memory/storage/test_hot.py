"""The hot tier: the RAM matrix searched by torch where there is a GPU."""

from __future__ import annotations

import numpy as np
import pytest

from noosd.memory.core import codec
from noosd.memory.storage.hot import HotIndex


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    return codec.normalized(np.random.default_rng(seed).standard_normal((count, 384)))


def test_the_torch_search_of_the_hot_tier_matches_numpy() -> None:
    # The GPU path, run by torch on the CPU: the same code, any machine.
    pytest.importorskip("torch")
    vectors = unit_vectors(40)
    with_torch, with_numpy = HotIndex(384, device="cpu"), HotIndex(384)
    for index in (with_torch, with_numpy):
        index.add(list(range(40)), vectors)
        index.remove([3])
    queries = unit_vectors(2, seed=1)

    torch_ids, torch_sims = with_torch.top(queries, 4)
    numpy_ids, numpy_sims = with_numpy.top(queries, 4)

    assert torch_ids.tolist() == numpy_ids.tolist()
    np.testing.assert_allclose(torch_sims, numpy_sims, atol=1e-5)
    # A change reaches the torch copy.
    with_torch.remove([int(torch_ids[0, 0])])
    assert with_torch.top(queries, 1)[0][0, 0] == torch_ids[0, 1]
