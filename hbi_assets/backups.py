"""The library-wide full backup (nightly and on demand), its retention and its verification."""

import os
import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field

from hbi.backup.full import apply_retention, take_full_backup, verify_full_backup
from hbi.bundle.bucket import BackupError, full_backup_ids
from hbi.catalog import default_catalog_path
from hbi_assets.books import book_bundle
from hbi_assets.index import search_index
from hbi_assets.library import library_catalog
from hbi_assets.retries import retry_transient_errors
from hbi_assets.run_logs import with_run_loggers
from hbi_resources.catalog import CatalogResource
from hbi_resources.embedder import EmbedderResource
from hbi_resources.object_store import ObjectStoreResource

ENV_KEEP_DAILY = "HBI_BACKUP_KEEP_DAILY"
ENV_KEEP_WEEKLY = "HBI_BACKUP_KEEP_WEEKLY"


class FullBackupConfig(dg.Config):
    """Retention applied after each full backup (UTC days and ISO weeks)."""

    keep_daily: int = Field(default=7, ge=1, description="newest backup of each of the last N days")
    keep_weekly: int = Field(default=4, ge=0, description="newest of each of the last M weeks")


@dg.asset(
    group_name="library",
    kinds={"s3", "duckdb"},
    deps=[book_bundle, library_catalog],
    description="A dated list of the library's bundles with their counts, and the DuckDB "
    "catalog, with retention of older full backups.",
)
def library_backup(
    config: FullBackupConfig,
    object_store: ObjectStoreResource,
    catalog: CatalogResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:
    with retry_transient_errors():
        taken = take_full_backup(
            object_store,
            Path(catalog.path or default_catalog_path()),
            embedder.model().model_id,
        )
        manifest = taken["manifest"]
        retention = apply_retention(
            object_store, set(manifest["books"]), config.keep_daily, config.keep_weekly
        )
    return dg.MaterializeResult(
        metadata={
            "backup_id": manifest["backup_id"],
            "location": taken["location"],
            "bytes": taken["bytes"],
            "books_with_bundle": len(manifest["books"]),
            **manifest["counts"],
            "retention_kept": dg.MetadataValue.json(retention["kept"]),
            "retention_deleted": dg.MetadataValue.json(retention["deleted"]),
            "bundles_deleted": retention["bundles_deleted"],
            "duration_s": taken["seconds"],
        }
    )


@dg.asset_check(asset=library_backup)
def newest_full_backup_verifies(object_store: ObjectStoreResource) -> dg.AssetCheckResult:
    """The newest full backup downloads whole, its catalog and every bundle it names match their
    SHA-256, and the bundles hold the counts the manifest records."""
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


# The backup's catalog is built in the same run: a run may execute where no index or catalog
# is kept between runs (a run container in deploy/, a pod), and there it starts from nothing.
full_backup_job = dg.define_asset_job(
    "full_backup", selection=[search_index, library_catalog, library_backup]
)
nightly_backup = dg.ScheduleDefinition(
    name="nightly_full_backup",
    job=full_backup_job,
    cron_schedule="30 2 * * *",
    execution_timezone=os.environ.get("HBI_TIMEZONE", "UTC"),
    run_config=with_run_loggers(
        {
            "ops": {
                "library_backup": {
                    "config": {
                        "keep_daily": int(os.environ.get(ENV_KEEP_DAILY, "7")),
                        "keep_weekly": int(os.environ.get(ENV_KEEP_WEEKLY, "4")),
                    }
                }
            }
        }
    ),
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
