"""Hostile files dropped next to a good book fail alone: the good book is indexed and found.

One sync does what the daemon does (sensor tick, a Dagster run per book, then the projection of
the library into the index). Each hostile file's run fails with a typed error naming it, puts
nothing in the library, the index or the graph, and is not retried on the next tick; the good
book is fully indexed (text, vectors, ToC graph) and found by a search.
"""

from __future__ import annotations

import dagster as dg
import pytest

from hbi.bundle.bucket import library_pointer
from hbi.cli.sync import sync_once
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.search import SearchResource
from tests.conftest import shared_dir
from tests.resilience.conftest import upload
from tests.resilience.hostile_books import HOSTILE_BOOKS

pytestmark = pytest.mark.integration

GOOD_KEY = "the-art-of-war_resilience.md"
# One of each failure kind and format, including both bombs and the 50 MB line.
HOSTILE_KEYS = (
    "truncated.pdf",
    "locked.pdf",
    "scanned.pdf",
    "flate-bomb.pdf",
    "zip-bomb.epub",
    "traversal.epub",
    "really-a-png.epub",
    "empty.txt",
    "line-50mb.txt",
)
CASES = {case.key: case for case in HOSTILE_BOOKS if case.key in HOSTILE_KEYS}


def index_rows(book_id: str) -> dict[str, int]:
    """How many rows the book has in the index of this home, read as the CLI reads them."""
    connection = connect(default_index_path())
    return {
        "books": int(reads.book(connection, book_id) is not None),
        "sections": len(reads.sections(connection, book_id)),
        "chunks": len(reads.chunks(connection, book_id)),
        "vectors": reads.vector_counts(connection).get(book_id, 0),
    }


def run_status(run_id: str) -> dg.DagsterRunStatus:
    with dg.DagsterInstance.get() as instance:
        return instance.get_run_by_id(run_id).status


def test_hostile_files_fail_alone_and_the_good_book_is_searchable(
    stack, synced_bucket: ObjectStoreResource, graph: GraphResource
) -> None:
    assert set(CASES) == set(HOSTILE_KEYS)
    upload(
        synced_bucket,
        GOOD_KEY,
        (shared_dir() / "corpus" / "sun-tzu_the-art-of-war.md").read_bytes(),
    )
    for key, case in CASES.items():
        upload(synced_bucket, key, case.build())

    report = sync_once()
    assert report["tick"]["added"] == 1 + len(CASES)
    runs = {run["book_id"]: run for run in report["runs"]}

    good = runs[GOOD_KEY]
    assert good["success"], good["errors"]
    assert run_status(good["run_id"]) == dg.DagsterRunStatus.SUCCESS
    rows = index_rows(GOOD_KEY)
    assert rows["chunks"] == rows["vectors"] > 0 and rows["sections"] == 16
    assert graph.counts(GOOD_KEY)["sections"] == 16
    hits = SearchResource().search("stratagem", mode="lexical", k=20).hits
    assert GOOD_KEY in {hit.book_id for hit in hits}

    for key, case in CASES.items():
        run = runs[key]
        assert not run["success"], key
        assert run_status(run["run_id"]) == dg.DagsterRunStatus.FAILURE
        assert any(f"{key}: {case.outcome}: " in error for error in run["errors"]), run["errors"]
        assert library_pointer(synced_bucket, key) is None
        assert index_rows(key) == {"books": 0, "sections": 0, "chunks": 0, "vectors": 0}
        assert graph.counts(key)["sections"] == 0

    assert sync_once()["runs"] == []
