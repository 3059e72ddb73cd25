"""The nightly full backup: a dated, checksummed snapshot of index, catalog and graph in MinIO."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from hbi.bundle import sha256_file
from hbi.cli.books import QUIET_RUN_CONFIG
from hbi.index_db import connect, default_index_path
from hbi_resources.object_store import ObjectStoreResource

pytestmark = pytest.mark.integration


def test_full_backup_snapshots_index_catalog_and_graph(
    ingested, object_store: ObjectStoreResource, tmp_path: Path
) -> None:
    from hbi_assets.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("full_backup").execute_in_process(
            instance=instance, run_config=QUIET_RUN_CONFIG
        )
    [materialization] = result.asset_materializations_for_node("library_backup")
    backup = materialization.metadata["backup_id"].value
    prefix = f"full/{backup}/"
    for obj in object_store.list_objects(object_store.backups_bucket, prefix):
        object_store.get_file(
            object_store.backups_bucket,
            obj.object_name,
            str(tmp_path / obj.object_name.rsplit("/", 1)[-1]),
        )
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["files"]) == {"index.sqlite", "catalog.parquet", "graph.jsonl"}
    for name, expected in manifest["files"].items():
        assert sha256_file(tmp_path / name) == expected["sha256"]
    live = connect(default_index_path())
    copy = connect(tmp_path / "index.sqlite")
    for table in ("books", "chunks", "sections", "chunk_vectors"):
        query = f"SELECT count(*) FROM {table}"
        assert copy.execute(query).fetchone() == live.execute(query).fetchone()
    assert manifest["counts"]["books"] == len(manifest["books"]) >= 8
    parquet = tmp_path / "catalog.parquet"
    rows = duckdb.connect().execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0]
    assert rows == manifest["counts"]["catalog_rows"]
    labels = [json.loads(line)["label"] for line in (tmp_path / "graph.jsonl").open()]
    assert labels.count("Section") == manifest["counts"]["graph_sections"] > 0
    assert manifest["model_id"].startswith("sentence-transformers/all-MiniLM-L6-v2")
