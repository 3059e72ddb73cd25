"""The one write path into the index: bundles applied whole, idempotently, in atomic batches
(real SQLite files)."""

from __future__ import annotations

import numpy as np
import pytest

from hbi.index import reads
from hbi.index.db import connect
from hbi.index.writer import apply_books, remove_books
from hbi.index.writer import projected as projected_records
from tests.small_books import book_rows, projected, small_bundle

TEXTS = ["alpha beta gamma.", "delta epsilon.", "zeta eta theta."]


@pytest.fixture
def index(tmp_path):
    return connect(tmp_path / "index.sqlite")


def fts_ids(index, word: str) -> set[int]:
    rows = index.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (word,))
    return {row[0] for row in rows}


def test_a_bundle_becomes_rows_fts_entries_and_vectors(index) -> None:
    bundle = small_bundle(book_rows(TEXTS))
    apply_books(index, [projected(bundle)])
    assert [c["chunk_id"] for c in reads.chunks(index, "book")] == bundle.chunk_ids
    assert fts_ids(index, "epsilon") == {bundle.chunk_ids[1]}
    stored = index.execute(
        "SELECT embedding FROM chunk_vectors WHERE chunk_id = ?", (bundle.chunk_ids[0],)
    ).fetchone()[0]
    np.testing.assert_array_equal(np.frombuffer(stored, np.float32), bundle.vectors[0])
    figures = reads.consistency(index)
    assert figures["sentence_vectors"] == 2 * len(TEXTS)
    assert figures["chunks"] == figures["fts_rows"] == figures["vectors"] == len(TEXTS)
    assert reads.projections(index)["book"]["model_id"] == bundle.model_id


def test_applying_the_same_bundle_again_changes_nothing(index) -> None:
    book = projected(small_bundle(book_rows(TEXTS)))
    apply_books(index, [book])
    before = (reads.consistency(index), reads.chunks(index, "book"))
    apply_books(index, [book])
    assert (reads.consistency(index), reads.chunks(index, "book")) == before


def test_a_changed_bundle_replaces_every_row_of_its_book(index) -> None:
    apply_books(index, [projected(small_bundle(book_rows(TEXTS)))])
    changed = small_bundle(book_rows(["omega psi."]), seed=1)
    apply_books(index, [projected(changed)])
    assert fts_ids(index, "epsilon") == set()
    assert fts_ids(index, "omega") == {changed.chunk_ids[0]}
    figures = reads.consistency(index)
    assert figures["chunks"] == figures["vectors"] == 1
    assert figures["orphan_vectors"] == figures["orphan_sentence_vectors"] == 0


def test_removing_a_book_removes_all_of_it_and_only_it(index) -> None:
    apply_books(
        index,
        [
            projected(small_bundle(book_rows(TEXTS, "one"))),
            projected(small_bundle(book_rows(["kept words."], "two"))),
        ],
    )
    assert remove_books(index, ["one", "absent"]) == ["one"]
    figures = reads.consistency(index)
    assert figures["books"] == figures["projected_books"] == figures["vectors"] == 1
    assert figures["sentence_vectors"] == 2
    assert set(projected_records(index)) == {"two"}


def test_a_batch_that_fails_part_way_leaves_every_book_as_it_was(index) -> None:
    apply_books(index, [projected(small_bundle(book_rows(["old words."], "one")))])
    before = reads.consistency(index)
    good = projected(small_bundle(book_rows(TEXTS, "one")))
    broken = projected(small_bundle(book_rows(TEXTS, "two")))
    # A chunk id another book holds violates the primary key mid-batch.
    broken.bundle.chunks[0]["chunk_id"] = good.bundle.chunk_ids[0]
    with pytest.raises(Exception, match="UNIQUE|constraint"):
        apply_books(index, [good, broken])
    assert reads.consistency(index) == before
    assert fts_ids(index, "old") and not fts_ids(index, "epsilon")


def test_a_bundle_of_another_model_can_be_applied_without_its_vectors(index) -> None:
    apply_books(index, [projected(small_bundle(book_rows(TEXTS)), with_vectors=False)])
    figures = reads.consistency(index)
    assert figures["chunks"] == 3 and figures["vectors"] == 0
    assert figures["chunks_without_vector"] == 0
    assert reads.projections(index)["book"]["model_id"] == ""


def test_a_book_whose_rows_are_not_whole_is_offered_for_reapplying(index) -> None:
    whole = projected(small_bundle(book_rows(["kept words."], "kept")), pointer_etag="e1")
    damaged = projected(small_bundle(book_rows(TEXTS, "damaged")), pointer_etag="e2")
    apply_books(index, [whole, damaged])
    index.execute("DELETE FROM chunk_vectors WHERE chunk_id = ?", (damaged.bundle.chunk_ids[0],))
    assert projected_records(index)["damaged"] == (damaged.fingerprint, "e2")
    verified = projected_records(index, verify=True)
    assert verified["damaged"] == ("", "")
    assert verified["kept"] == (whole.fingerprint, "e1")
