"""Consistent copies of the local indexes for a full backup, and the manifest that lists them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import apsw
import duckdb

from hbi import __version__
from hbi.bundle import sha256_file


def snapshot_sqlite(source: apsw.Connection, target: Path) -> None:
    """Copy the whole index into target with SQLite's online backup API.

    One step copies every page under a single read transaction, so the copy is the index as
    of one commit: a book being written at the same time is in it whole or not at all.
    """
    target.unlink(missing_ok=True)
    destination = apsw.Connection(str(target))
    with destination.backup("main", source, "main") as backup:
        backup.step(-1)
    destination.close()


def snapshot_catalog(catalog_path: Path, target: Path) -> int:
    """Export the DuckDB catalog's books table to Parquet; return its row count."""
    if not catalog_path.exists():
        target.write_bytes(b"")
        return 0
    with duckdb.connect(str(catalog_path), read_only=True) as connection:
        connection.execute(f"COPY books TO '{target}' (FORMAT parquet)")
        return connection.execute("SELECT count(*) FROM books").fetchone()[0]


def backup_id(now: datetime | None = None) -> str:
    """Return a sortable id for a full backup taken now (UTC), e.g. 20261122T031500Z."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def write_manifest(
    folder: Path, *, backup: str, model_id: str, books: dict[str, str], counts: dict[str, int]
) -> dict:
    """Write manifest.json for the files in folder and return it.

    `books` maps each book id to the fingerprint of its per-book bundle, which the full backup
    references instead of copying again.
    """
    files = {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(folder.iterdir())
        if path.name != "manifest.json"
    }
    manifest = {
        "backup_id": backup,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hbi_version": __version__,
        "model_id": model_id,
        "files": files,
        "books": books,
        "counts": counts,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest
