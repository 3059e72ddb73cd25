"""The nightly full backup: a dated, checksummed list of the library's bundles and the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from hbi.bundle.bucket import library_listing
from hbi.bundle.files import sha256_file
from hbi.cli.books import QUIET_RUN_CONFIG
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi_resources.object_store import ObjectStoreResource

pytestmark = pytest.mark.integration


def test_full_backup_names_every_bundle_of_the_library_and_the_catalog(
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
    assert set(manifest["files"]) == {"catalog.parquet"}
    for name, expected in manifest["files"].items():
        assert sha256_file(tmp_path / name) == expected["sha256"]
    assert set(manifest["books"]) == set(library_listing(object_store))
    live = reads.consistency(connect(default_index_path()))
    assert manifest["counts"]["books"] == len(manifest["books"]) == live["books"] >= 8
    assert manifest["counts"]["chunks"] == live["chunks"]
    assert manifest["counts"]["vectors"] == live["vectors"]
    assert manifest["counts"]["sentence_vectors"] == live["sentence_vectors"]
    parquet = tmp_path / "catalog.parquet"
    rows = duckdb.connect().execute(f"SELECT count(*) FROM '{parquet}'").fetchone()[0]
    assert rows == manifest["counts"]["catalog_rows"]
    assert manifest["model_id"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    # The run projects the library and builds the catalog first, so every check holds.
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert "newest_full_backup_verifies" in checks
    assert all(check.passed for check in checks.values()), {
        name: check.metadata for name, check in checks.items() if not check.passed
    }
