"""The in-memory vector search: exact below a size, bit codes plus float re-scoring above it."""

from __future__ import annotations

import numpy as np
import pytest

from hbi.search.vectors import VectorMatrix


def clustered(count: int, dim: int = 384, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((count // 50, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), count)] + rng.standard_normal(
        (count, dim)
    ).astype(np.float32) * np.float32(0.8 / np.sqrt(dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = rng.permutation(np.arange(10, 10 + count) * 7)
    return ids.astype(np.int64), vectors


def exact_top(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    similarities = vectors @ query
    order = np.lexsort((ids, -similarities))[:k]
    return ids[order].tolist()


def test_exact_search_returns_nearest_by_cosine() -> None:
    ids, vectors = clustered(2_000)
    matrix = VectorMatrix(ids, vectors)
    hits, info = matrix.search(vectors[5], 10)
    assert info.stage == "exact"
    assert [h[0] for h in hits] == exact_top(ids, vectors, vectors[5], 10)
    assert hits[0] == (int(ids[5]), pytest.approx(1.0, abs=1e-5))
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_bit_codes_with_rescoring_find_the_exact_neighbours() -> None:
    ids, vectors = clustered(20_000)
    matrix = VectorMatrix(ids, vectors)
    rng = np.random.default_rng(9)
    recalls = []
    for row in rng.integers(0, len(ids), 20):
        query = vectors[row] + rng.standard_normal(384).astype(np.float32) * np.float32(0.02)
        query /= np.linalg.norm(query)
        hits, info = matrix.search(query, 10, exact_below=1_000, rescore=500)
        assert info.stage == "binary+rescore" and info.rescored == 500
        recalls.append(len({h[0] for h in hits} & set(exact_top(ids, vectors, query, 10))) / 10)
    assert np.mean(recalls) >= 0.95


def test_rows_limit_the_search_to_a_filter() -> None:
    ids, vectors = clustered(3_000)
    matrix = VectorMatrix(ids, vectors)
    allowed = np.sort(ids)[::3]
    hits, info = matrix.search(vectors[0], 20, rows=matrix.rows_of(allowed))
    assert info.rows == len(allowed)
    assert {h[0] for h in hits} <= set(allowed.tolist())


def test_unknown_ids_are_skipped_when_mapping_rows() -> None:
    matrix = VectorMatrix(np.array([5, 3, 9]), np.eye(3, 384, dtype=np.float32))
    assert matrix.ids.tolist() == [3, 5, 9]
    assert matrix.rows_of(np.array([9, 4, 3, 100])).tolist() == [0, 2]


def test_empty_matrix_finds_nothing() -> None:
    hits, info = VectorMatrix.empty().search(np.ones(384, np.float32), 10)
    assert hits == [] and info.stage == "empty"
