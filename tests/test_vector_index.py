"""Chunk and sentence vectors are written, kept, evicted to the cache and deleted together
(real SQLite files)."""

from __future__ import annotations

import numpy as np
import pytest

from hbi.index_db import connect, forget_live_cache_entries
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


def cache_hashes(vector_index: VectorIndexResource) -> set[str]:
    rows = vector_index.connect().execute("SELECT content_hash FROM embedding_cache")
    return {row[0] for row in rows}


def test_live_vectors_are_found_by_text_and_never_copied_into_the_cache(indexes) -> None:
    _, vector_index = indexes
    rows = book_rows(["alpha beta gamma.", "delta epsilon."])
    written = index_book(indexes, rows)
    assert cache_hashes(vector_index) == set()
    # The same text in another book reuses these vectors.
    digest = rows.chunks[0].content_hash
    found = vector_index.cached(MODEL, [digest, "no-such-text"])
    assert set(found) == {digest}
    np.testing.assert_array_equal(
        found[digest].stacked(), written[rows.chunks[0].chunk_id].stacked()
    )
    assert vector_index.cached("another-model", [digest]) == {}


def test_changed_and_deleted_text_leaves_its_vectors_in_the_cache(indexes) -> None:
    text_index, vector_index = indexes
    rows = book_rows(["alpha beta gamma.", "delta epsilon."])
    written = index_book(indexes, rows)
    old = rows.chunks[1]
    revised = book_rows(["alpha beta gamma.", "delta epsilon, revised."])
    text_index.replace_book(revised)
    assert cache_hashes(vector_index) == {old.content_hash}
    back = vector_index.cached(MODEL, [old.content_hash])[old.content_hash]
    np.testing.assert_array_equal(back.stacked(), written[old.chunk_id].stacked())
    vector_index.write_vectors(
        "book", MODEL, {old.chunk_id: random_vectors(np.random.default_rng(1), 2)}
    )

    # The old text returns: its vectors come back from the cache and leave it.
    text_index.replace_book(rows)
    assert [p.content_hash for p in vector_index.pending_chunks("book", MODEL)] == [
        old.content_hash
    ]
    vector_index.write_vectors("book", MODEL, {old.chunk_id: back})
    assert cache_hashes(vector_index) == {revised.chunks[1].content_hash}

    text_index.delete_book("book")
    assert cache_hashes(vector_index) == {c.content_hash for c in [*rows.chunks, revised.chunks[1]]}
    assert vector_index.connect().execute("SELECT count(*) FROM chunk_vectors").fetchone()[0] == 0


def test_maintenance_forgets_cache_entries_that_live_vectors_duplicate(indexes) -> None:
    _, vector_index = indexes
    rows = book_rows(["alpha beta gamma.", "delta epsilon."])
    written = index_book(indexes, rows)
    connection = vector_index.connect()
    connection.executemany(  # what an index written before eviction holds
        "INSERT INTO embedding_cache (model_id, content_hash, embedding) VALUES (?, ?, ?)",
        [(MODEL, c.content_hash, written[c.chunk_id].stacked().tobytes()) for c in rows.chunks]
        + [(MODEL, "gone-text", written[rows.chunks[0].chunk_id].stacked().tobytes())],
    )
    assert forget_live_cache_entries(connection) == 2
    assert cache_hashes(vector_index) == {"gone-text"}


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
    vector_index.write_vectors("book", MODEL, {first: random_vectors(rng, 1)})
    assert {k: len(v) for k, v in vector_index.sentence_vectors("book").items()} == {first: 1}


def test_an_index_made_before_sentence_vectors_gets_the_table(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    connect(path).execute("DROP TABLE sentence_vectors")
    tables = connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    assert "sentence_vectors" in {row[0] for row in tables}


def test_a_text_another_book_still_holds_is_not_cached_when_one_copy_goes(indexes) -> None:
    text_index, vector_index = indexes
    texts = ["alpha beta gamma.", "delta epsilon."]
    index_book(indexes, book_rows(texts))
    index_book(indexes, book_rows([texts[0], "something else."], book_id="copy"))
    text_index.delete_book("book")
    assert cache_hashes(vector_index) == {book_rows(texts).chunks[1].content_hash}
    assert forget_live_cache_entries(vector_index.connect()) == 0
