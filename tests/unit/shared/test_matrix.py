"""The RAM vector matrix (the memory store's hot and cold tiers, the index's
chunks): rows by id, exact search, int8 rows, groups and masks."""

from __future__ import annotations

import numpy as np
import pytest

from noosd.shared.matrix import BLOCK_ROWS, SPAN_CELLS, VectorMatrix
from noosd.shared.quantize import quantized


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, 384)).astype(np.float32)
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True), dtype=np.float32)


def test_the_nearest_rows_come_first_with_their_cosines() -> None:
    vectors = unit_vectors(50)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add(list(range(100, 150)), vectors)

    ids, sims = matrix.top(vectors[[7, 30]], 3)

    assert ids[:, 0].tolist() == [107, 130]
    np.testing.assert_allclose(sims[:, 0], [1.0, 1.0], atol=1e-5)
    assert (np.diff(sims, axis=1) <= 0).all()
    expected = np.sort(vectors @ vectors[7])[::-1][:3]
    np.testing.assert_allclose(sims[0], expected, atol=1e-5)


def test_removal_keeps_the_other_rows_findable() -> None:
    vectors = unit_vectors(10)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add(list(range(10)), vectors)

    matrix.remove([0, 4, 99])

    assert len(matrix) == 8 and 0 not in matrix and 9 in matrix
    for memory_id in (1, 9, 5):
        assert matrix.top(vectors[[memory_id]], 1)[0][0, 0] == memory_id
    assert sorted(matrix.ids.tolist()) == [1, 2, 3, 5, 6, 7, 8, 9]


def test_adding_an_id_again_replaces_its_row() -> None:
    vectors = unit_vectors(3)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add([1, 2], vectors[:2])

    matrix.add([1], vectors[2:])

    assert len(matrix) == 2
    assert matrix.top(vectors[[2]], 1)[0][0, 0] == 1


def test_an_int8_matrix_searches_across_blocks_like_float32() -> None:
    count = BLOCK_ROWS + 500
    vectors = unit_vectors(count)
    codes, scales = quantized(vectors)
    matrix = VectorMatrix(384, quantized=True)
    matrix.add_quantized(list(range(count)), codes, scales)
    queries = vectors[[3, BLOCK_ROWS + 7]]

    ids, sims = matrix.top(queries, 5)

    assert ids[:, 0].tolist() == [3, BLOCK_ROWS + 7]
    exact = np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :5]
    np.testing.assert_allclose(sims, exact, atol=5e-3)


def test_k_beyond_the_rows_returns_them_all() -> None:
    matrix = VectorMatrix(384, quantized=False)
    assert matrix.top(unit_vectors(1), 10)[0].shape == (1, 0)
    matrix.add([5, 6], unit_vectors(2))
    assert matrix.top(unit_vectors(1), 10)[0].shape == (1, 2)


def test_float32_rows_added_to_an_int8_matrix_are_quantized_there() -> None:
    vectors = unit_vectors(20)
    matrix = VectorMatrix(384, quantized=True)
    matrix.add(list(range(20)), vectors)

    assert matrix.top(vectors[[11]], 1)[0][0, 0] == 11
    np.testing.assert_allclose(matrix.dense(), vectors, atol=5e-3)


def test_only_a_quantized_matrix_takes_int8_codes() -> None:
    codes, scales = quantized(unit_vectors(1))
    with pytest.raises(ValueError):
        VectorMatrix(384, quantized=False).add_quantized([1], codes, scales)


def test_a_grouped_matrix_takes_a_group_for_each_row_and_only_it() -> None:
    with pytest.raises(ValueError):
        VectorMatrix(384, quantized=True, grouped=True).add([1], unit_vectors(1))
    with pytest.raises(ValueError):
        VectorMatrix(384, quantized=True).add([1], unit_vectors(1), [7])


def test_vectors_of_another_size_are_refused() -> None:
    with pytest.raises(RuntimeError, match="re-embedding"):
        VectorMatrix(384, quantized=True).add([1], np.zeros((1, 512), dtype=np.float32))


def test_a_mask_of_groups_limits_the_search_to_their_rows() -> None:
    count = BLOCK_ROWS + 300
    vectors = unit_vectors(count)
    groups = [i // 10 for i in range(count)]
    matrix = VectorMatrix(384, quantized=True, grouped=True)
    matrix.add(list(range(1000, 1000 + count)), vectors, groups)
    wanted = np.array([3, 50, 120, 10_000], dtype=np.int64)

    mask = matrix.rows_in_groups(wanted)
    ids, sims = matrix.top(vectors[[35, 1205]], 8, mask)

    kept = [i for i in range(count) if groups[i] in (3, 50, 120)]
    assert int(mask.sum()) == len(kept)
    assert {matrix.group_of(i) for i in ids.ravel().tolist()} <= {3, 50, 120}
    assert ids[:, 0].tolist() == [1035, 2205]
    exact = np.sort(vectors[[35, 1205]] @ vectors[kept].T, axis=1)[:, ::-1][:, :8]
    np.testing.assert_allclose(sims, exact, atol=5e-3)
    assert matrix.allows(mask, 1035) and not matrix.allows(mask, 1000)
    assert matrix.allows(None, 1000) and not matrix.allows(None, 5)
    assert matrix.group_of(5) is None


def test_a_removal_moves_the_last_row_with_its_group_and_scale() -> None:
    vectors = unit_vectors(6)
    matrix = VectorMatrix(384, quantized=True, grouped=True)
    matrix.add(list(range(6)), vectors, [0, 0, 1, 1, 2, 2])

    matrix.remove([1])

    assert matrix.group_of(5) == 2
    mask = matrix.rows_in_groups(np.array([2], dtype=np.int64))
    assert sorted(matrix.top(vectors[[5]], 6, mask)[0][0].tolist()) == [4, 5]
    np.testing.assert_allclose(
        matrix.cosines(vectors[5], [5, 0]), vectors[[5, 0]] @ vectors[5], atol=5e-3
    )
    # A row's group follows it; an id not here has none.
    assert matrix.groups.tolist() == [0, 2, 1, 1, 2]
    ids = np.array([5, 1, 3, 0], dtype=np.int64)
    groups, here = matrix.groups_of(ids)
    assert (groups.tolist(), here.tolist()) == ([2, -1, 1, 0], [True, False, True, True])
    mask = matrix.rows_in_groups(np.array([1, 2], dtype=np.int64))
    assert matrix.groups_of(ids, mask)[1].tolist() == [True, False, True, False]


def test_many_queries_over_several_spans_find_what_one_does() -> None:
    queries = unit_vectors(64, seed=2)
    count = SPAN_CELLS // len(queries) * 2 + 100
    vectors = unit_vectors(count)
    matrix = VectorMatrix(384, quantized=False)
    matrix.add(list(range(count)), vectors)

    ids, sims = matrix.top(queries, 5)

    for row in (0, 63):
        one_ids, one_sims = matrix.top(queries[[row]], 5)
        assert ids[row].tolist() == one_ids[0].tolist()
        np.testing.assert_allclose(sims[row], one_sims[0], atol=1e-5)


def test_within_finds_every_row_at_least_that_similar() -> None:
    vectors = unit_vectors(BLOCK_ROWS + 10)
    matrix = VectorMatrix(384, quantized=True)
    matrix.add(list(range(len(vectors))), vectors)

    positions, ids, sims = matrix.within(vectors[[2, BLOCK_ROWS + 3]], 0.99)

    assert positions.tolist() == [0, 1] and ids.tolist() == [2, BLOCK_ROWS + 3]
    assert (sims > 0.99).all()
