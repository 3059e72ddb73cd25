"""Full backups: a dated, verified list of the library's bundles plus the catalog, and retention.

The bundles already hold every row of every book, so a full backup is small: `manifest.json`
names each book's bundle (book id -> content hash and fingerprint) and counts what they hold,
and `catalog.parquet` keeps the DuckDB catalog. Restoring one points the library back at those
bundles and projects them (hbi/backup/restore.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from hbi import __version__
from hbi.backup.retention import plan_retention
from hbi.bundle.bucket import (
    BackupError,
    bundle_fingerprints,
    bundle_prefix,
    delete_full_backup,
    download_bundle,
    download_full_backup,
    full_backup_ids,
    full_prefix,
    library_listing,
    library_pointer,
    read_full_manifest,
    unreferenced_bundles,
)
from hbi.bundle.files import sha256_file
from hbi.storage.object_store import ObjectStoreClient

COUNTED_FILES = {
    "chunks": "chunks.parquet",
    "vectors": "embeddings.parquet",
    "sentence_vectors": "sentence_embeddings.parquet",
    "sections": "sections.parquet",
    "index_terms": "terms.parquet",
}


def backup_id(now: datetime | None = None) -> str:
    """Return a sortable id for a full backup taken now (UTC), e.g. 20261122T031500Z."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def new_backup_id(store: ObjectStoreClient) -> str:
    """Return a fresh id: the time, with a suffix if a backup was already taken this second."""
    base = backup_id()
    candidate, n = base, 1
    while store.exists(store.backups_bucket, full_prefix(candidate) + "manifest.json"):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def snapshot_catalog(catalog_path: Path, target: Path) -> int:
    """Export the DuckDB catalog's books table to Parquet; return its row count."""
    if not catalog_path.exists():
        target.write_bytes(b"")
        return 0
    with duckdb.connect(str(catalog_path), read_only=True) as connection:
        connection.execute(f"COPY books TO '{target}' (FORMAT parquet)")
        return connection.execute("SELECT count(*) FROM books").fetchone()[0]


def parquet_rows(path: Path) -> int:
    """Return the row count of a Parquet file (0 for the empty file of a missing catalog)."""
    if not path.stat().st_size:
        return 0
    with duckdb.connect() as connection:
        return connection.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]


def _bundle_counts(store: ObjectStoreClient, book_id: str, fingerprint: str) -> dict[str, int]:
    """Return the row counts a bundle's manifest records."""
    key = bundle_prefix(book_id, fingerprint) + "manifest.json"
    files = json.loads(store.get_bytes(store.backups_bucket, key))["files"]
    return {name: files[file]["rows"] for name, file in COUNTED_FILES.items() if file in files}


def take_full_backup(store: ObjectStoreClient, catalog_path: Path, model_id: str) -> dict:
    """Write a full backup of the library as it is now; return its manifest and size."""
    started = time.perf_counter()
    backup = new_backup_id(store)
    books: dict[str, dict] = {}
    counts = {"books": 0, **{name: 0 for name in COUNTED_FILES}}
    for book_id in sorted(library_listing(store)):
        pointer = library_pointer(store, book_id)
        if pointer is None:  # removed while we listed
            continue
        books[book_id] = {
            "content_hash": pointer["content_hash"],
            "fingerprint": pointer["fingerprint"],
        }
        counts["books"] += 1
        for name, rows in _bundle_counts(store, book_id, pointer["fingerprint"]).items():
            counts[name] += rows
    with tempfile.TemporaryDirectory(prefix="hbi-backup-") as tmp:
        folder = Path(tmp)
        counts["catalog_rows"] = snapshot_catalog(catalog_path, folder / "catalog.parquet")
        manifest = {
            "backup_id": backup,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "hbi_version": __version__,
            "model_id": model_id,
            "files": {
                "catalog.parquet": {
                    "sha256": sha256_file(folder / "catalog.parquet"),
                    "bytes": (folder / "catalog.parquet").stat().st_size,
                }
            },
            "books": books,
            "counts": counts,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        size = store.upload_with_manifest(
            store.backups_bucket, full_prefix(backup), folder, ["catalog.parquet"]
        )
    return {
        "manifest": manifest,
        "bytes": size,
        "location": f"s3://{store.backups_bucket}/{full_prefix(backup)}",
        "seconds": round(time.perf_counter() - started, 3),
    }


def verify_full_backup(store: ObjectStoreClient, backup: str, folder: Path) -> dict:
    """Re-read a full backup and every bundle it names; check checksums and counts.

    Raises BackupError naming the first file, bundle or count that does not match; returns
    what was verified.
    """
    manifest = download_full_backup(store, backup, folder / "full")
    found = {"books": 0, **{name: 0 for name in COUNTED_FILES}}
    found["catalog_rows"] = parquet_rows(folder / "full" / "catalog.parquet")
    for book_id, entry in manifest["books"].items():
        bundle = download_bundle(store, book_id, entry["fingerprint"], folder / book_id)
        found["books"] += 1
        found["chunks"] += len(bundle.chunks)
        found["vectors"] += len(bundle.chunk_ids)
        found["sentence_vectors"] += sum(len(v) for v in bundle.sentence_vectors.values())
        found["sections"] += len(bundle.sections)
        found["index_terms"] += len(bundle.terms)
    for name, expected in manifest["counts"].items():
        if found.get(name, 0) != expected:
            raise BackupError(
                f"full backup {backup}: {name} is {found.get(name, 0)}, manifest says {expected}"
            )
    return {
        "backup_id": backup,
        "files": len(manifest["files"]),
        "bundles": found["books"],
        **found,
    }


def apply_retention(
    store: ObjectStoreClient, library: set[str], keep_daily: int, keep_weekly: int
) -> dict:
    """Delete full backups outside the retention policy and bundles nothing needs any more."""
    plan = plan_retention(full_backup_ids(store), keep_daily, keep_weekly)
    for old in plan.delete:
        delete_full_backup(store, old)
    kept_manifests = [read_full_manifest(store, b) for b in plan.keep]
    stale = unreferenced_bundles(bundle_fingerprints(store), library, kept_manifests)
    for book_id, fingerprints in stale.items():
        for fingerprint in fingerprints:
            store.delete_prefix(store.backups_bucket, bundle_prefix(book_id, fingerprint))
    return {
        "kept": plan.keep,
        "deleted": plan.delete,
        "bundles_deleted": sum(len(f) for f in stale.values()),
    }
