"""Drop, replace and delete books in MinIO and the sensor + run path keeps every store in step."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from hbi.bundle.bucket import library_pointer
from hbi.cli.books import refresh_catalog
from hbi.cli.sync import sync_once
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.index.writer import remove_books
from hbi_resources.catalog import CatalogResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.search import SearchResource
from tests.conftest import shared_dir

pytestmark = pytest.mark.integration


@pytest.fixture
def own_bucket(object_store: ObjectStoreResource, monkeypatch, tmp_path) -> ObjectStoreResource:
    """Point HBI at a fresh books bucket (and sensor state) for this test."""
    name = f"books-{uuid.uuid4().hex[:12]}"
    object_store.client().make_bucket(name)
    monkeypatch.setenv("HBI_BOOKS_BUCKET", name)
    monkeypatch.setenv("HBI_STATE_PATH", str(tmp_path / "sensor.sqlite"))
    return ObjectStoreResource.from_env()


def upload(store: ObjectStoreResource, key: str, path: Path) -> None:
    """Upload as any S3 client (mc, boto3) would: straight into the bucket, no HBI call."""
    data = path.read_bytes()
    store.client().put_object(store.books_bucket, key, io.BytesIO(data), len(data))


def found_in(book_id: str, query: str) -> bool:
    """Whether a lexical search of this home's index, filtered to the book, finds the query."""
    return bool(SearchResource().search(query, mode="lexical", k=5, book_ids=[book_id]).hits)


def index():
    return connect(default_index_path())


def test_upload_replace_and_delete_flow_through_every_index(
    stack, own_bucket: ObjectStoreResource, graph: GraphResource
) -> None:
    corpus = shared_dir() / "corpus"
    upload(own_bucket, "war.md", corpus / "sun-tzu_the-art-of-war.md")
    report = sync_once()
    assert report["tick"]["added"] == 1
    assert all(run["success"] for run in report["runs"]), report
    assert found_in("war.md", "stratagem")
    assert "war.md" in CatalogResource().book_ids()

    upload(own_bucket, "war.md", corpus / "lewis-carroll_alices-adventures-in-wonderland.txt")
    report = sync_once()
    assert report["tick"]["changed"] == 1 and all(r["success"] for r in report["runs"])
    assert found_in("war.md", "marmalade")
    assert not found_in("war.md", "stratagem")

    own_bucket.client().remove_object(own_bucket.books_bucket, "war.md")
    report = sync_once()
    assert report["tick"]["deleted"] == 1 and all(r["success"] for r in report["runs"])
    assert reads.book(index(), "war.md") is None
    assert not found_in("war.md", "marmalade")
    assert graph.counts("war.md")["sections"] == 0
    assert "war.md" not in CatalogResource().book_ids()
    assert reads.consistency(index())["orphan_vectors"] == 0
    assert library_pointer(own_bucket, "war.md") is None
    with dg.DagsterInstance.get() as instance:
        assert not instance.has_dynamic_partition("books", "war.md")
    # Deletion is not data loss: the book's bundles stay for a restore.
    assert own_bucket.exists(own_bucket.backups_bucket, "books/war.md/LATEST.json")


def test_sync_with_nothing_new_runs_nothing(stack, own_bucket) -> None:
    assert sync_once()["runs"] == []


def test_eight_books_materialize_concurrently(ingested) -> None:
    hbi = str(Path(sys.executable).with_name("hbi"))
    book_ids = sorted(ingested)
    processes = [
        subprocess.Popen(
            [hbi, "materialize", book_id, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for book_id in book_ids
    ]
    results = [p.communicate(timeout=900) for p in processes]
    for book_id, process, (out, err) in zip(book_ids, processes, results, strict=True):
        assert process.returncode == 0, f"{book_id}: {out}\n{err[-3000:]}"
        assert "database is locked" not in err and "Deadlock" not in err
        [outcome] = json.loads(out)
        assert outcome["success"]
    connection = index()
    vectors = reads.vector_counts(connection)
    for book_id in book_ids:
        assert vectors[book_id] == reads.book(connection, book_id)["chunk_count"] > 0, book_id


def run_check(check: dg.AssetChecksDefinition, partition: str | None = None):
    """Run one asset check through Dagster, as the UI's "Execute" does; return its evaluation."""
    from hbi.cli.books import QUIET_RUN_CONFIG
    from hbi_assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={check.check_key}
    )
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=partition,
            instance=instance,
            raise_on_error=False,
            run_config=QUIET_RUN_CONFIG,
        )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_an_ingested_bundle_passes_its_check(ingested) -> None:
    from hbi_assets.checks import bundle_is_whole

    evaluation = run_check(bundle_is_whole, "sun-tzu_the-art-of-war.md")
    assert evaluation.passed
    assert evaluation.metadata["with_vector"].value == evaluation.metadata["chunks"].value > 0


def test_a_broken_index_fails_its_check_visibly_until_projected_again(ingested) -> None:
    from hbi_assets.index import index_matches_library

    book_id = "sun-tzu_the-art-of-war.md"
    assert run_check(index_matches_library).passed
    connection = index()
    victim = reads.chunks(connection, book_id)[0]["chunk_id"]
    connection.execute("DELETE FROM chunk_vectors WHERE chunk_id = ?", (victim,))
    broken = run_check(index_matches_library)
    assert not broken.passed
    assert broken.metadata["chunks_without_vector"].value == 1
    # The index is a projection: a book it no longer holds is applied whole from its bundle.
    assert remove_books(connection, [book_id]) == [book_id]
    assert refresh_catalog()
    assert run_check(index_matches_library).passed
    assert found_in(book_id, "stratagem")


def test_catalog_has_one_row_per_indexed_book(ingested) -> None:
    indexed = {b["book_id"] for b in reads.books(index())}
    assert set(CatalogResource().book_ids()) == indexed
    with CatalogResource().connect(read_only=True) as connection:
        row = connection.execute(
            "SELECT chunks, vectors, backed_up, model_id, extract_s, embed_s, embedded_at "
            "FROM books WHERE book_id = ?",
            ["h-g-wells_the-time-machine.pdf"],
        ).fetchone()
    assert row[0] == row[1] > 0 and row[2] is True and row[3].startswith("sentence-transformers")
    # Timings come from each book's latest materialization, read for all books at once.
    assert row[4] > 0 and row[5] is not None and row[6]


def test_index_maintenance_reports_sizes(ingested) -> None:
    from hbi_assets.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("index_maintenance_job").execute_in_process(instance=instance)
    [materialization] = result.asset_materializations_for_node("index_maintenance")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["index_bytes_before"] > 0 and metadata["index_bytes_after"] > 0
    assert metadata["vectors"] <= metadata["vector_slots_after"]
    assert found_in("lewis-carroll_alices-adventures-in-wonderland.txt", "rabbit")
