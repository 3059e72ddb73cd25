"""Backups you can trust: back up, destroy, restore, and get the same library back.

Real MinIO and Neo4j throughout; the index and the graph are projected again from the bundles
that a full backup names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from hbi import config
from hbi.backup.restore import ModelMismatchError, Services, restore_books, restore_full
from hbi.books.listing_state import ListingState
from hbi.bundle.bucket import (
    BackupError,
    bundle_prefix,
    full_backup_ids,
    full_prefix,
    library_listing,
    library_pointer,
    read_full_manifest,
    withdraw_from_library,
)
from hbi.cli import cli
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.index.projection import project_library
from hbi.stack.dagster_home import ensure_dagster_home
from hbi.storage.object_store import ObjectStore
from hbi_assets.sensors import evaluate_books_bucket
from hbi_resources.catalog import CatalogResource
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from tests.conftest import SensorLog

pytestmark = pytest.mark.integration

QUERIES = [
    "the time traveller's machine",
    "media sanitization purge clear destroy",
    "Alice and the Cheshire Cat",
    "blockchain consensus proof of work",
    '"It is a truth universally acknowledged"',
]


def invoke(*args: str) -> dict | list:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def index_counts() -> dict[str, int]:
    return reads.consistency(connect(default_index_path()))


def library_state(graph: GraphResource) -> dict:
    """Everything the roundtrip must preserve: searches in all modes, ToCs and counts."""
    searches = {
        (query, mode): [
            (h["chunk_id"], h["section_id"], h["page_start"], round(h["score"], 5))
            for h in invoke("search", query, "--mode", mode, "-k", "10", "--json")["hits"]
        ]
        for query in QUERIES
        for mode in ("lexical", "semantic", "hybrid")
    }
    books = {b["book_id"]: b for b in invoke("books", "--json")}
    tocs = {book_id: invoke("toc", book_id, "--json") for book_id in books}
    counts = index_counts()
    graph_counts = {book_id: graph.counts(book_id) for book_id in books}
    catalog_rows = sorted(CatalogResource().book_ids())
    return {
        "searches": searches,
        "books": {k: (v["chunks"], v["toc_entries"]) for k, v in books.items()},
        "tocs": tocs,
        "counts": counts,
        "graph": graph_counts,
        "catalog": catalog_rows,
    }


@pytest.fixture(scope="module")
def backed_up(ingested, graph: GraphResource) -> dict:
    """The ingested corpus's state, and a verified full backup of it."""
    before = library_state(graph)
    outcome = invoke("backup", "--json")
    assert outcome["verified"], outcome
    return {"state": before, "backup_id": outcome["backup_id"], "outcome": outcome}


def test_backup_is_listed_with_its_manifest(backed_up: dict) -> None:
    listed = invoke("backups", "--json")
    entry = next(e for e in listed if e["backup_id"] == backed_up["backup_id"])
    assert entry["books"] == len(backed_up["state"]["books"])
    assert entry["counts"]["chunks"] == backed_up["state"]["counts"]["chunks"]
    assert entry["model_id"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert backed_up["outcome"]["verification"]["bundles"] == len(backed_up["state"]["books"])


def test_wipe_then_restore_gives_the_same_library(
    backed_up: dict, graph: GraphResource, home_layout: config.HomeLayout
) -> None:
    result = CliRunner().invoke(cli, ["wipe", "--indexes", "--yes"])
    assert result.exit_code == 0, result.output
    assert not Path(default_index_path()).exists()
    assert not home_layout.catalog_db.exists()
    assert all(graph.counts(b)["sections"] == 0 for b in backed_up["state"]["books"])

    report = invoke("restore", "--latest", "--json")

    assert report["backup_id"] == backed_up["backup_id"] and not report["re_embedded"]
    assert all(b["embedded"] for b in report["books"])
    assert library_state(graph) == backed_up["state"]
    with dg.DagsterInstance.get() as instance:
        for asset in ("book_bundle", "book_toc_graph"):
            done = instance.get_materialized_partitions(dg.AssetKey(asset))
            assert set(backed_up["state"]["books"]) <= done, asset


def test_restore_into_an_empty_home_registers_books_and_ingests_nothing(
    backed_up: dict, graph: GraphResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBI_HOME", str(tmp_path / "fresh"))
    ensure_dagster_home(config.layout().dagster_home)
    monkeypatch.setenv("DAGSTER_HOME", str(config.layout().dagster_home))

    report = invoke("restore", "--backup", backed_up["backup_id"], "--json")

    assert len(report["books"]) == len(backed_up["state"]["books"])
    assert library_state(graph) == backed_up["state"]
    with dg.DagsterInstance.get() as instance:
        partitions = set(instance.get_dynamic_partitions("books"))
        assert set(backed_up["state"]["books"]) <= partitions
        for asset in ("book_bundle", "book_toc_graph"):
            assert instance.get_materialized_partitions(dg.AssetKey(asset)) >= set(
                backed_up["state"]["books"]
            )
        events = instance.fetch_materializations(dg.AssetKey("book_bundle"), limit=1).records
        assert (
            events[0].asset_materialization.metadata["restored_from"].value == report["backup_id"]
        )
    # The books sensor knows the restored objects: nothing is extracted or embedded again.
    result = evaluate_books_bucket(ObjectStore.from_env(), ListingState(), SensorLog()).result
    requested = {r.partition_key for r in getattr(result, "run_requests", None) or []}
    assert not requested & set(backed_up["state"]["books"])


def test_a_deleted_book_comes_back_from_its_bundle(backed_up: dict, graph: GraphResource) -> None:
    book_id = "sun-tzu_the-art-of-war.md"
    store = ObjectStore.from_env()
    withdraw_from_library(store, book_id)
    graph.delete_book(book_id)
    assert project_library(store, default_index_path()).removed == [book_id]
    assert book_id not in {b["book_id"] for b in invoke("books", "--json")}

    report = invoke("restore", "--books", book_id, "--json")

    assert [b["book_id"] for b in report["books"]] == [book_id]
    assert report["counts"]["vectors"] == report["counts"]["chunks"] > 0
    assert library_state(graph) == backed_up["state"]


def test_a_backup_with_a_bad_checksum_is_refused_and_fails_verification(
    backed_up: dict, object_store: ObjectStoreResource, graph: GraphResource, tmp_path: Path
) -> None:
    bucket = object_store.backups_bucket
    source = full_prefix(backed_up["backup_id"])
    forged = "29991231T235959Z"
    for name in ("catalog.parquet", "manifest.json"):
        object_store.get_file(bucket, source + name, str(tmp_path / name))
    with open(tmp_path / "catalog.parquet", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    object_store.upload_with_manifest(bucket, full_prefix(forged), tmp_path, ["catalog.parquet"])
    try:
        assert full_backup_ids(object_store)[0] == forged
        before = index_counts()
        pointers = library_listing(object_store)
        result = CliRunner().invoke(cli, ["restore", "--latest"])
        assert result.exit_code == 1
        assert "catalog.parquet does not match its SHA-256" in result.output
        assert index_counts() == before
        assert library_listing(object_store) == pointers

        from hbi_assets.backups import newest_full_backup_verifies
        from hbi_assets.definitions import defs

        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=set(), asset_check_selection={newest_full_backup_verifies.check_key}
        )
        with dg.DagsterInstance.get() as instance:
            run = job.execute_in_process(instance=instance, raise_on_error=False)
        [evaluation] = run.get_asset_check_evaluations()
        assert not evaluation.passed
        assert "catalog.parquet" in evaluation.metadata["error"].value
    finally:
        object_store.delete_prefix(bucket, full_prefix(forged))


def test_another_embedding_model_is_refused_unless_re_embedding(
    backed_up: dict, graph: GraphResource, tmp_path: Path
) -> None:
    book_id = "sun-tzu_the-art-of-war.md"
    before = index_counts()
    pointers = library_listing(ObjectStore.from_env())
    with pytest.raises(ModelMismatchError, match="--re-embed"):
        restore_full(Services.from_env(), backed_up["backup_id"], "other/model@1", tmp_path / "a")
    with pytest.raises(ModelMismatchError, match="--re-embed"):
        restore_books(Services.from_env(), [book_id], None, "other/model@1", tmp_path / "b")
    assert index_counts() == before
    assert library_listing(ObjectStore.from_env()) == pointers

    model = EmbedderResource().model()
    report = restore_books(
        Services.from_env(),
        [book_id],
        None,
        "other/model@1",
        tmp_path / "c",
        re_embed=True,
        embed=model.embed_chunks,
    )
    # The text was embedded again into a new bundle, which the library now points at.
    assert report.re_embedded and report.books[0].embedded
    pointer = library_pointer(ObjectStore.from_env(), book_id)
    assert pointer["model_id"] == "other/model@1"
    assert pointer["fingerprint"] == report.books[0].bundle_fingerprint
    assert graph.counts(book_id)["sections"] == backed_up["state"]["graph"][book_id]["sections"]

    # Back to the backup's bundle of the real model for the tests that follow.
    restore_books(
        Services.from_env(), [book_id], backed_up["backup_id"], model.model_id, tmp_path / "d"
    )
    assert library_state(graph) == backed_up["state"]


def test_a_missing_backup_is_a_clear_error(backed_up: dict) -> None:
    result = CliRunner().invoke(cli, ["restore", "--backup", "20000101T000000Z"])
    assert result.exit_code == 1
    assert "no full backup '20000101T000000Z'" in result.output
    with pytest.raises(BackupError, match="no bundle"):
        restore_books(Services.from_env(), ["no-such-book.txt"], None, "m", Path("/tmp"))


def test_retention_keeps_recent_backups_and_bundles_of_library_books(
    backed_up: dict, object_store: ObjectStoreResource, tmp_path: Path
) -> None:
    bucket = object_store.backups_bucket
    source = full_prefix(backed_up["backup_id"])
    for name in ("catalog.parquet", "manifest.json"):
        object_store.get_file(bucket, source + name, str(tmp_path / name))
    manifest = read_full_manifest(object_store, backed_up["backup_id"])
    # Old backups on five days of two earlier weeks; one refers to a book since removed.
    old = ["20200106T020000Z", "20200107T020000Z", "20200108T020000Z", "20200113T020000Z"]
    gone_bundle = "books/removed-book.txt/0123abcd/"
    object_store.put_bytes(bucket, gone_bundle + "manifest.json", b"{}", "application/json")
    for backup in old:
        entry = {**manifest, "backup_id": backup, "books": {}}
        (tmp_path / "manifest.json").write_text(json.dumps(entry))
        object_store.upload_with_manifest(
            bucket, full_prefix(backup), tmp_path, ["catalog.parquet"]
        )

    outcome = invoke("backup", "--keep-daily", "2", "--keep-weekly", "2", "--json")

    remaining = full_backup_ids(object_store)
    # Two daily (today's newest, and 2020-01-13), two weekly (this week, 2020 week 3).
    assert outcome["backup_id"] in remaining
    assert "20200113T020000Z" in remaining
    assert not {"20200106T020000Z", "20200107T020000Z", "20200108T020000Z"} & set(remaining)
    assert set(outcome["retention_deleted"]) >= {"20200106T020000Z", "20200108T020000Z"}
    assert outcome["bundles_deleted"] >= 1
    assert not object_store.exists(bucket, gone_bundle + "manifest.json")
    for book_id, entry in read_full_manifest(object_store, outcome["backup_id"])["books"].items():
        assert object_store.exists(bucket, f"books/{book_id}/{entry['fingerprint']}/manifest.json")
    object_store.delete_prefix(bucket, full_prefix("20200113T020000Z"))


def test_a_backup_taken_during_ingest_names_only_whole_bundles(
    backed_up: dict, object_store: ObjectStoreResource, tmp_path: Path
) -> None:
    import threading

    from hbi.cli.books import add_books, materialize_books
    from tests.conftest import shared_dir

    corpus = shared_dir() / "corpus"
    copy = tmp_path / "during-ingest.txt"
    shutil.copy(corpus / "lewis-carroll_alices-adventures-in-wonderland.txt", copy)
    added = add_books((copy,))
    done = threading.Event()
    outcomes: list = []

    def ingest() -> None:
        try:
            outcomes.extend(materialize_books([a["book_id"] for a in added]))
        finally:
            done.set()

    worker = threading.Thread(target=ingest)
    worker.start()
    looks = 0
    bucket = object_store.backups_bucket
    # A pointer is written only after its bundle's manifest, so a backup listing the library
    # at any moment names whole bundles.
    while not done.is_set() or looks == 0:
        looks += 1
        for book_id in library_listing(object_store):
            pointer = library_pointer(object_store, book_id)
            if pointer is not None:
                key = bundle_prefix(book_id, pointer["fingerprint"]) + "manifest.json"
                assert object_store.exists(bucket, key), book_id
    worker.join()
    try:
        assert outcomes and all(o["success"] for o in outcomes), outcomes
        assert looks >= 2
        outcome = invoke("backup", "--json")
        assert outcome["verified"] and outcome["books"] == len(backed_up["state"]["books"]) + 1
    finally:
        _remove_book(object_store, added[0])


def _remove_book(object_store: ObjectStoreResource, added: dict) -> None:
    """Take the extra book out again as a user would, so later tests see the corpus alone."""
    object_store.delete_prefix(object_store.books_bucket, added["object_key"])
    report = invoke("sync", "--json")
    assert [added["book_id"]] in [run.get("removed") for run in report["runs"]]
