"""Chunk and sentence vectors are written, cached, kept and deleted together (real SQLite files)."""

from __future__ import annotations

import numpy as np
import pytest

from hbi.index_db import connect
from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource
from tests.small_books import MODEL, book_rows, index_book, random_vectors


@pytest.fixture
def indexes(tmp_path) -> tuple[TextIndexResource, VectorIndexResource]:
    path = str(tmp_path / "index.sqlite")
    return TextIndexResource(path=path), VectorIndexResource(path=path)


def test_sentence_vectors_are_stored_with_their_chunk_vectors(indexes) -> None:
    rows = book_rows(["alpha beta gamma.", "delta epsilon.", "zeta eta theta."])
    written = index_book(indexes, rows)
    _, vector_index = indexes
    ids, chunk_vectors = vector_index.vectors("book")
    assert ids == [c.chunk_id for c in rows.chunks]
    np.testing.assert_array_equal(chunk_vectors, np.stack([written[c].chunk for c in ids]))
    stored = vector_index.sentence_vectors("book")
    assert set(stored) == set(ids)
    for chunk_id in ids:
        np.testing.assert_array_equal(stored[chunk_id], written[chunk_id].sentences)
    assert vector_index.sentence_vector_count("book") == 2 * len(ids)


def test_the_cache_gives_back_chunk_and_sentence_vectors(indexes) -> None:
    _, vector_index = indexes
    rng = np.random.default_rng(3)
    entries = {"hash-a": random_vectors(rng, 3), "hash-b": random_vectors(rng, 0)}
    vector_index.write_vectors("book", MODEL, {}, entries)
    found = vector_index.cached(MODEL, ["hash-a", "hash-b", "hash-c"])
    assert set(found) == {"hash-a", "hash-b"}
    for digest in found:
        np.testing.assert_array_equal(found[digest].stacked(), entries[digest].stacked())
    assert vector_index.cached("another-model", ["hash-a"]) == {}


def test_a_changed_chunk_loses_its_sentence_vectors_and_an_unchanged_one_keeps_them(
    indexes,
) -> None:
    text_index, vector_index = indexes
    index_book(indexes, book_rows(["alpha beta gamma.", "delta epsilon."]))
    changed = book_rows(["alpha beta gamma.", "delta epsilon, revised."])
    stats = text_index.replace_book(changed)
    assert (stats.vectors_kept, stats.vectors_dropped) == (1, 1)
    assert set(vector_index.sentence_vectors("book")) == {changed.chunks[0].chunk_id}
    assert [p.chunk_id for p in vector_index.pending_chunks("book", MODEL)] == [
        changed.chunks[1].chunk_id
    ]


def test_deleting_a_book_deletes_its_sentence_vectors(indexes) -> None:
    text_index, vector_index = indexes
    index_book(indexes, book_rows(["alpha beta gamma.", "delta epsilon."]))
    index_book(indexes, book_rows(["other words here."], book_id="other"))
    text_index.delete_book("book")
    connection = vector_index.connect()
    remaining = connection.execute("SELECT DISTINCT chunk_id FROM sentence_vectors").fetchall()
    assert [r[0] for r in remaining] == list(vector_index.sentence_vectors("other"))


def test_vectors_of_another_model_are_replaced_with_their_sentences(indexes) -> None:
    _, vector_index = indexes
    rows = book_rows(["alpha beta gamma.", "delta epsilon."])
    index_book(indexes, rows, model="old-model")
    assert len(vector_index.pending_chunks("book", MODEL)) == len(rows.chunks)
    rng = np.random.default_rng(9)
    first = rows.chunks[0].chunk_id
    vector_index.write_vectors("book", MODEL, {first: random_vectors(rng, 1)}, {})
    assert {k: len(v) for k, v in vector_index.sentence_vectors("book").items()} == {first: 1}


def test_an_index_made_before_sentence_vectors_gets_the_table(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    connect(path).execute("DROP TABLE sentence_vectors")
    tables = connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert "sentence_vectors" in {row[0] for row in tables}
