"""Hostile files dropped next to a good book fail alone: the good book is indexed and found.

One sync does what the daemon does (sensor tick, then a Dagster run per book). Each hostile
file's run fails with a typed error naming it, leaves no row in any index and is not retried
on the next tick; the good book is fully indexed (text, vectors, ToC graph) and searchable.
"""

from __future__ import annotations

import dagster as dg
import pytest

from hbi.cli.sync import sync_once
from hbi.index_db import connect, default_index_path
from hbi_resources.graph import GraphResource
from hbi_resources.text_index import TextIndexResource
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
    """How many rows the book has in each index table."""
    connection = connect(default_index_path())
    count = lambda sql: connection.execute(sql, (book_id,)).fetchone()[0]  # noqa: E731
    return {
        "books": count("SELECT count(*) FROM books WHERE book_id = ?"),
        "sections": count("SELECT count(*) FROM sections WHERE book_id = ?"),
        "chunks": count("SELECT count(*) FROM chunks WHERE book_id = ?"),
        "vectors": count(
            "SELECT count(*) FROM chunk_vectors WHERE chunk_id IN "
            "(SELECT chunk_id FROM chunks WHERE book_id = ?)"
        ),
    }


def run_status(run_id: str) -> dg.DagsterRunStatus:
    with dg.DagsterInstance.get() as instance:
        return instance.get_run_by_id(run_id).status


def test_hostile_files_fail_alone_and_the_good_book_is_searchable(
    stack, synced_bucket, graph: GraphResource
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
    hits = TextIndexResource().search_bm25("stratagem", 20)
    assert GOOD_KEY in {hit["book_id"] for hit in hits}

    for key, case in CASES.items():
        run = runs[key]
        assert not run["success"], key
        assert run_status(run["run_id"]) == dg.DagsterRunStatus.FAILURE
        assert any(f"{key}: {case.outcome}: " in error for error in run["errors"]), run["errors"]
        assert index_rows(key) == {"books": 0, "sections": 0, "chunks": 0, "vectors": 0}
        assert graph.counts(key)["sections"] == 0

    assert sync_once()["runs"] == []
