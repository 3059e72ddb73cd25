"""The library-wide full backup (nightly and on demand), its retention and its verification."""

import os
import tempfile
import time
from pathlib import Path

import dagster as dg
from pydantic import Field

from hbi.backup_store import (
    BackupError,
    bundle_fingerprints,
    bundle_prefix,
    delete_full_backup,
    download_bundle,
    download_full_backup,
    full_backup_ids,
    full_prefix,
    latest_pointer,
    read_full_manifest,
    unreferenced_bundles,
)
from hbi.index_db import connect
from hbi.retention import plan_retention
from hbi.snapshot import (
    backup_id,
    drop_rebuildable,
    graph_label_counts,
    index_counts,
    indexed_books,
    parquet_rows,
    snapshot_catalog,
    snapshot_sqlite,
    write_manifest,
)
from hbi_assets.books import book_backup
from hbi_assets.library import library_catalog
from hbi_assets.retries import retry_transient_errors
from hbi_resources.catalog import CatalogResource, default_catalog_path
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource

ENV_KEEP_DAILY = "HBI_BACKUP_KEEP_DAILY"
ENV_KEEP_WEEKLY = "HBI_BACKUP_KEEP_WEEKLY"


class FullBackupConfig(dg.Config):
    """Retention applied after each full backup (UTC days and ISO weeks)."""

    keep_daily: int = Field(default=7, ge=1, description="newest backup of each of the last N days")
    keep_weekly: int = Field(default=4, ge=0, description="newest of each of the last M weeks")


def _new_backup_id(object_store: ObjectStoreResource) -> str:
    """Return a fresh id: the time, with a suffix if a backup was already taken this second."""
    base = backup_id()
    candidate, n = base, 1
    bucket = object_store.backups_bucket
    while object_store.exists(bucket, full_prefix(candidate) + "manifest.json"):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _apply_retention(
    object_store: ObjectStoreResource, library: set[str], config: FullBackupConfig
) -> dict:
    """Delete full backups outside the retention policy and bundles nothing needs any more."""
    plan = plan_retention(full_backup_ids(object_store), config.keep_daily, config.keep_weekly)
    for old in plan.delete:
        delete_full_backup(object_store, old)
    kept_manifests = [read_full_manifest(object_store, b) for b in plan.keep]
    stale = unreferenced_bundles(bundle_fingerprints(object_store), library, kept_manifests)
    for book_id, fingerprints in stale.items():
        for fingerprint in fingerprints:
            object_store.delete_prefix(
                object_store.backups_bucket, bundle_prefix(book_id, fingerprint)
            )
    return {
        "kept": plan.keep,
        "deleted": plan.delete,
        "bundles_deleted": sum(len(f) for f in stale.values()),
    }


@dg.asset(
    group_name="library",
    kinds={"s3", "sqlite", "duckdb", "neo4j"},
    deps=[book_backup, library_catalog],
    description="A dated snapshot of the SQLite index, the DuckDB catalog and the Neo4j graph, "
    "with retention of older full backups.",
)
def library_backup(
    config: FullBackupConfig,
    object_store: ObjectStoreResource,
    text_index: TextIndexResource,
    catalog: CatalogResource,
    graph: GraphResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    with retry_transient_errors():
        started = time.perf_counter()
        backup = _new_backup_id(object_store)
        bucket = object_store.backups_bucket
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            snapshot_sqlite(text_index.connect(), folder / "index.sqlite")
            drop_rebuildable(folder / "index.sqlite")
            # Counts and books come from the copy, so the manifest describes exactly what it holds.
            copy = connect(folder / "index.sqlite", readonly=True)
            counts = index_counts(copy)
            books = {}
            for book in indexed_books(copy):
                pointer = latest_pointer(object_store, book["book_id"]) or {}
                same_text = pointer.get("content_hash") == book["content_hash"]
                books[book["book_id"]] = {
                    "content_hash": book["content_hash"],
                    "fingerprint": pointer.get("fingerprint") if same_text else None,
                }
            copy.close()
            counts["catalog_rows"] = snapshot_catalog(
                Path(catalog.path or default_catalog_path()), folder / "catalog.parquet"
            )
            exported = graph.export_jsonl(str(folder / "graph.jsonl"))
            counts.update({f"graph_{label.lower()}s": n for label, n in exported.items()})
            manifest = write_manifest(
                folder,
                names=["index.sqlite", "catalog.parquet", "graph.jsonl"],
                backup=backup,
                model_id=embedder.model().model_id,
                books=books,
                counts=counts,
            )
            size = object_store.upload_with_manifest(
                bucket, full_prefix(backup), folder, list(manifest["files"])
            )
        retention = _apply_retention(object_store, set(books), config)
    return dg.MaterializeResult(
        metadata={
            "backup_id": backup,
            "location": f"s3://{bucket}/{full_prefix(backup)}",
            "bytes": size,
            "books_with_bundle": sum(1 for b in books.values() if b["fingerprint"]),
            **counts,
            "retention_kept": dg.MetadataValue.json(retention["kept"]),
            "retention_deleted": dg.MetadataValue.json(retention["deleted"]),
            "bundles_deleted": retention["bundles_deleted"],
            "duration_s": round(time.perf_counter() - started, 3),
        }
    )


def verify_full_backup(object_store: ObjectStoreResource, backup: str, folder: Path) -> dict:
    """Re-read a full backup and check every checksum and count; return what was verified.

    Raises BackupError naming the first file, bundle or count that does not match.
    """
    manifest = download_full_backup(object_store, backup, folder / "full")
    counts = manifest["counts"]
    copy = connect(folder / "full" / "index.sqlite", readonly=True)
    integrity = copy.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        raise BackupError(f"full backup {backup}: index.sqlite fails integrity_check: {integrity}")
    found = {
        **index_counts(copy),
        "catalog_rows": parquet_rows(folder / "full" / "catalog.parquet"),
        **graph_label_counts(folder / "full" / "graph.jsonl"),
    }
    copy.close()
    for name, expected in counts.items():
        if found.get(name, 0) != expected:
            raise BackupError(
                f"full backup {backup}: {name} is {found.get(name, 0)}, manifest says {expected}"
            )
    bundles = 0
    for book_id, entry in manifest["books"].items():
        if entry["fingerprint"]:
            download_bundle(object_store, book_id, entry["fingerprint"], folder / book_id)
            bundles += 1
    return {"backup_id": backup, "files": len(manifest["files"]), "bundles": bundles, **counts}


@dg.asset_check(asset=library_backup)
def newest_full_backup_verifies(object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    """The newest full backup downloads whole, every file and referenced bundle matches its
    SHA-256, and the index, catalog and graph counts equal the manifest's."""
    ids = full_backup_ids(object_store)
    if not ids:
        return dg.AssetCheckResult(passed=False, metadata={"error": "no full backup exists"})
    with tempfile.TemporaryDirectory() as tmp:
        try:
            verified = verify_full_backup(object_store, ids[0], Path(tmp))
        except BackupError as exc:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"backup_id": ids[0], "error": str(exc)},
            )
    return dg.AssetCheckResult(passed=True, metadata=verified)


full_backup_job = dg.define_asset_job("full_backup", selection=[library_backup])
nightly_backup = dg.ScheduleDefinition(
    name="nightly_full_backup",
    job=full_backup_job,
    cron_schedule="30 2 * * *",
    execution_timezone=os.environ.get("HBI_TIMEZONE", "UTC"),
    run_config={
        "ops": {
            "library_backup": {
                "config": {
                    "keep_daily": int(os.environ.get(ENV_KEEP_DAILY, "7")),
                    "keep_weekly": int(os.environ.get(ENV_KEEP_WEEKLY, "4")),
                }
            }
        }
    },
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
