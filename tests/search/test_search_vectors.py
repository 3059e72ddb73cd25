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


def with_sentences(count: int, per_chunk: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chunk vectors plus `per_chunk` sentence vectors each (a chunk's vector perturbed)."""
    ids, vectors = clustered(count)
    rng = np.random.default_rng(5)
    noise = rng.standard_normal((count * per_chunk, 384)).astype(np.float32) * np.float32(0.05)
    sentences = np.repeat(vectors, per_chunk, axis=0) + noise
    sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
    all_ids = np.concatenate([ids, np.repeat(ids, per_chunk)])
    marks = np.arange(len(all_ids)) >= count
    return all_ids, np.vstack([vectors, sentences]), marks


def best_per_chunk(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    similarities = vectors @ query
    best: dict[int, float] = {}
    for chunk_id, similarity in zip(ids.tolist(), similarities.tolist(), strict=True):
        best[chunk_id] = max(best.get(chunk_id, -2.0), similarity)
    return sorted(best, key=lambda c: (-best[c], c))[:k]


def test_a_chunk_scores_as_its_best_row_and_appears_once() -> None:
    ids = np.array([7, 7, 7, 3, 3])
    vectors = np.eye(5, 384, dtype=np.float32)
    sentence = np.array([False, True, True, False, True])
    matrix = VectorMatrix(ids, vectors, sentence)
    query = unit_row(384, 2)  # the second sentence of chunk 7
    hits, info = matrix.search(query, 10)
    assert hits == [(7, pytest.approx(1.0)), (3, pytest.approx(0.0))]
    assert info.by_sentence == {7} and info.as_dict()["matched_by_sentence"] == 1


def test_a_chunk_matched_by_its_own_vector_is_reported_so() -> None:
    matrix = VectorMatrix(np.array([4, 4]), np.eye(2, 384, dtype=np.float32), np.array([0, 1]))
    hits, info = matrix.search(unit_row(384, 0), 1)
    assert hits == [(4, pytest.approx(1.0))] and info.by_sentence == frozenset()


def test_exact_search_over_sentence_rows_ranks_chunks_by_their_best_row() -> None:
    ids, vectors, marks = with_sentences(2_000)
    matrix = VectorMatrix(ids, vectors, marks)
    query = vectors[2_000 + 17]
    hits, info = matrix.search(query, 20)
    assert info.stage == "exact"
    assert [h[0] for h in hits] == best_per_chunk(ids, vectors, query, 20)
    assert len({h[0] for h in hits}) == 20


def test_binary_stage_over_sentence_rows_still_gives_depth_distinct_chunks() -> None:
    ids, vectors, marks = with_sentences(10_000)
    matrix = VectorMatrix(ids, vectors, marks)
    rng = np.random.default_rng(2)
    recalls = []
    for row in rng.integers(0, len(ids), 10):
        hits, info = matrix.search(vectors[row], 50, exact_below=1_000, rescore=60)
        assert info.stage == "binary+rescore" and len({h[0] for h in hits}) == 50
        truth = best_per_chunk(ids, vectors, vectors[row], 50)
        recalls.append(len({h[0] for h in hits} & set(truth)) / 50)
    assert np.mean(recalls) >= 0.9


def test_the_binary_stage_finds_a_chunk_by_its_sentence() -> None:
    rng = np.random.default_rng(4)
    query = unit(rng.standard_normal(384))
    chunks = np.stack([unit(v) for v in rng.standard_normal((40_000, 384))])
    # 60 decoys closer to the query than the target chunk, whose sentence is the query itself.
    for row in range(60):
        chunks[row] = unit(query + 1.2 * unit(rng.standard_normal(384)))
    chunks[99] = unit(query + 3.0 * unit(rng.standard_normal(384)))
    assert int(np.argsort(-(chunks @ query)).tolist().index(99)) >= 60
    ids = np.concatenate([np.arange(40_000), [99]])
    matrix = VectorMatrix(ids, np.vstack([chunks, query]), np.arange(40_001) == 40_000)
    hits, info = matrix.search(query, 10)
    assert info.stage == "binary+rescore"
    assert hits[0] == (99, pytest.approx(1.0)) and info.by_sentence == {99}


def test_a_filter_limits_the_binary_stage_to_its_chunks() -> None:
    ids, vectors, marks = with_sentences(4_000)
    matrix = VectorMatrix(ids, vectors, marks)
    allowed = np.unique(ids)[::4]
    rows = matrix.rows_of(allowed)
    hits, info = matrix.search(vectors[3], 20, rows=rows, exact_below=1_000, rescore=100)
    assert info.stage == "binary+rescore" and info.rows == len(rows) == 4 * len(allowed)
    assert len(hits) == 20 and {h[0] for h in hits} <= set(allowed.tolist())


def test_chunk_similarities_are_every_chunks_best_row() -> None:
    ids, vectors = clustered(400)
    rows = np.concatenate([ids, ids[:100]])
    sentences = np.roll(vectors[:100], 1, axis=1)
    matrix = VectorMatrix(rows, np.vstack([vectors, sentences]), np.arange(500) >= 400)
    query = vectors[7]
    chunk_ids, similarities = matrix.chunk_similarities(query)
    assert chunk_ids.tolist() == sorted(ids.tolist())
    hits, _ = matrix.search(query, 400, exact_below=10_000)
    listed = dict(zip(chunk_ids.tolist(), similarities.tolist(), strict=True))
    assert dict(hits) == pytest.approx(listed)
    chosen = matrix.rows_of(ids[:10])
    chunk_ids, _ = matrix.chunk_similarities(query, chosen)
    assert chunk_ids.tolist() == sorted(ids[:10].tolist())


def test_won_by_sentence_names_chunks_nearest_through_a_sentence() -> None:
    matrix = VectorMatrix(
        np.array([4, 4, 6]), np.eye(3, 384, dtype=np.float32), np.array([0, 1, 0])
    )
    assert matrix.won_by_sentence(np.eye(3, 384, dtype=np.float32)[1], [4, 6]) == {4}
    assert matrix.won_by_sentence(np.eye(3, 384, dtype=np.float32)[0], [4, 6]) == frozenset()


def test_rows_of_gives_every_row_of_each_chunk() -> None:
    matrix = VectorMatrix(np.array([9, 5, 9, 3, 9]), np.eye(5, 384, dtype=np.float32))
    assert matrix.ids.tolist() == [3, 5, 9, 9, 9]
    assert matrix.rows_of(np.array([9, 4, 3, 9])).tolist() == [0, 2, 3, 4]
    assert matrix.rows_of(np.array([], np.int64)).tolist() == []


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def unit_row(dim: int, index: int) -> np.ndarray:
    row = np.zeros(dim, np.float32)
    row[index] = 1.0
    return row


def test_sentence_vectors_beyond_the_memory_budget_stay_on_disk(
    library, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hbi.index.search import ENV_SENTENCE_BUDGET, IndexStore

    ids, matrix, sentence = IndexStore(library.path).vectors()
    chunks = int((~sentence).sum())
    assert sentence.any() and len(ids) == len(matrix) > chunks
    monkeypatch.setenv(ENV_SENTENCE_BUDGET, str(int(sentence.sum()) - 1))
    ids, matrix, sentence = IndexStore(library.path).vectors()
    assert len(ids) == len(matrix) == chunks and not sentence.any()
