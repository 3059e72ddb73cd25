"""Drop, replace and delete books in MinIO and the sensor + run path keeps every index in step."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from hbi.cli.books import materialize_books
from hbi.cli.sync import sync_once
from hbi.index_db import connect, default_index_path
from hbi_resources.catalog import CatalogResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource
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
    return any(h["book_id"] == book_id for h in TextIndexResource().search_bm25(query, 50))


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
    assert TextIndexResource().book("war.md") is None
    assert not found_in("war.md", "marmalade")
    assert graph.counts("war.md")["sections"] == 0
    assert "war.md" not in CatalogResource().book_ids()
    orphans = (
        connect(default_index_path())
        .execute(
            "SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
        )
        .fetchone()[0]
    )
    assert orphans == 0
    with dg.DagsterInstance.get() as instance:
        assert not instance.has_dynamic_partition("books", "war.md")
    # Deletion is not data loss: the backup bundle stays for a restore.
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
    connection = connect(default_index_path())
    for book_id in book_ids:
        chunks, vectors = connection.execute(
            "SELECT count(*), count(v.chunk_id) FROM chunks c "
            "LEFT JOIN chunk_vectors v ON v.chunk_id = c.chunk_id WHERE c.book_id = ?",
            (book_id,),
        ).fetchone()
        assert chunks == vectors > 0


def run_vector_check(book_id: str) -> dg.AssetCheckEvaluation:
    from hbi.cli.books import QUIET_RUN_CONFIG
    from hbi_assets.checks import every_chunk_has_one_vector
    from hbi_assets.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection={every_chunk_has_one_vector.check_key}
    )
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=book_id,
            instance=instance,
            raise_on_error=False,
            run_config=QUIET_RUN_CONFIG,
        )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_checks_pass_and_a_broken_index_fails_one_visibly(ingested) -> None:
    book_id = "sun-tzu_the-art-of-war.md"
    assert run_vector_check(book_id).passed
    connection = connect(default_index_path())
    victim = connection.execute(
        "SELECT chunk_id FROM chunks WHERE book_id = ? LIMIT 1", (book_id,)
    ).fetchone()[0]
    connection.execute("DELETE FROM chunk_vectors WHERE chunk_id = ?", (victim,))
    broken = run_vector_check(book_id)
    assert not broken.passed
    assert broken.metadata["with_vector"].value == broken.metadata["chunks"].value - 1
    [repair] = materialize_books([book_id])
    assert repair["success"], repair["errors"]
    assert run_vector_check(book_id).passed


def test_catalog_has_one_row_per_indexed_book(ingested) -> None:
    indexed = {b["book_id"] for b in TextIndexResource().books()}
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
    assert metadata["cache_entries_duplicating_live_vectors_deleted"] == 0
    assert TextIndexResource().search_bm25("rabbit", 1)
