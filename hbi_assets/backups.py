"""The library-wide full backup, taken nightly and on demand."""

import json
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from hbi.snapshot import backup_id, snapshot_catalog, snapshot_sqlite, write_manifest
from hbi_assets.books import book_backup
from hbi_assets.library import library_catalog
from hbi_assets.retries import retry_transient_errors
from hbi_resources.catalog import CatalogResource, default_catalog_path
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource

FULL_PREFIX = "full/"


@dg.asset(
    group_name="library",
    kinds={"s3", "sqlite", "duckdb", "neo4j"},
    deps=[book_backup, library_catalog],
    description="A dated snapshot of the SQLite index, the DuckDB catalog and the Neo4j graph.",
)
def library_backup(
    object_store: ObjectStoreResource,
    text_index: TextIndexResource,
    catalog: CatalogResource,
    graph: GraphResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    with retry_transient_errors():
        started = time.perf_counter()
        backup = backup_id()
        bucket = object_store.backups_bucket
        books = {}
        for book in text_index.books():
            pointer_key = f"books/{book['book_id']}/LATEST.json"
            if object_store.exists(bucket, pointer_key):
                pointer = json.loads(object_store.get_bytes(bucket, pointer_key))
                books[book["book_id"]] = pointer["fingerprint"]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            connection = text_index.connect()
            snapshot_sqlite(connection, folder / "index.sqlite")
            counts = {
                "books": connection.execute("SELECT count(*) FROM books").fetchone()[0],
                "chunks": connection.execute("SELECT count(*) FROM chunks").fetchone()[0],
                "vectors": connection.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0],
            }
            counts["catalog_rows"] = snapshot_catalog(
                Path(catalog.path or default_catalog_path()), folder / "catalog.parquet"
            )
            exported = graph.export_jsonl(str(folder / "graph.jsonl"))
            counts.update({f"graph_{label.lower()}s": n for label, n in exported.items()})
            manifest = write_manifest(
                folder,
                backup=backup,
                model_id=embedder.model().model_id,
                books=books,
                counts=counts,
            )
            prefix = f"{FULL_PREFIX}{backup}/"
            size = object_store.upload_with_manifest(
                bucket, prefix, folder, list(manifest["files"])
            )
    return dg.MaterializeResult(
        metadata={
            "backup_id": backup,
            "location": f"s3://{bucket}/{prefix}",
            "bytes": size,
            "books_referenced": len(books),
            **counts,
            "duration_s": round(time.perf_counter() - started, 3),
        }
    )


full_backup_job = dg.define_asset_job("full_backup", selection=[library_backup])
nightly_backup = dg.ScheduleDefinition(
    name="nightly_full_backup",
    job=full_backup_job,
    cron_schedule="30 2 * * *",
    execution_timezone=os.environ.get("HBI_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
