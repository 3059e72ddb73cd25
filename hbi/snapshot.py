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
    of one commit: a book being written at the same time is in it whole or not at all. The copy
    is switched from WAL to a rollback journal, so it is one self-contained file.
    """
    target.unlink(missing_ok=True)
    destination = apsw.Connection(str(target))
    with destination.backup("main", source, "main") as backup:
        backup.step(-1)
    destination.execute("PRAGMA journal_mode=DELETE")
    destination.close()


def drop_rebuildable(target: Path) -> None:
    """Empty the embedding cache of a snapshot and compact it.

    The cache holds a second copy of every vector, keyed by text, so re-ingesting unchanged
    text skips the model; the live vectors are in the snapshot anyway. Leaving it out nearly
    halves a full backup, and a restored index simply starts with an empty cache.
    """
    copy = apsw.Connection(str(target))
    copy.execute("DELETE FROM embedding_cache")
    copy.execute("VACUUM")
    copy.close()


COUNTED_TABLES = {
    "books": "books",
    "sections": "sections",
    "chunks": "chunks",
    "fts_rows": "chunks_fts",
    "vectors": "chunk_vectors",
    "sentence_vectors": "sentence_vectors",
    "index_terms": "index_terms",
}


def index_counts(connection: apsw.Connection) -> dict[str, int]:
    """Return the row counts a full backup's manifest records for its index snapshot (tables
    an older index does not have yet are left out)."""
    present = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    return {
        name: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for name, table in COUNTED_TABLES.items()
        if table in present
    }


def indexed_books(connection: apsw.Connection) -> list[dict]:
    """Return each book of an index with its source, content hash and how complete it is."""
    connection.row_trace = lambda cursor, row: dict(
        zip((d[0] for d in cursor.getdescription()), row, strict=True)
    )
    try:
        return list(
            connection.execute(
                "SELECT b.book_id, b.content_hash, b.chunk_count, b.object_key, b.etag, "
                "(SELECT count(*) FROM chunks c JOIN chunk_vectors v ON v.chunk_id = c.chunk_id "
                " WHERE c.book_id = b.book_id) AS vectors, e.model_id "
                "FROM books b LEFT JOIN book_embeddings e ON e.book_id = b.book_id "
                "ORDER BY b.book_id"
            )
        )
    finally:
        connection.row_trace = None


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


def graph_label_counts(path: Path) -> dict[str, int]:
    """Return the node counts of a graph export by label, keyed as a manifest records them."""
    counts: dict[str, int] = {}
    with open(path) as lines:
        for line in lines:
            key = f"graph_{json.loads(line)['label'].lower()}s"
            counts[key] = counts.get(key, 0) + 1
    return counts


def backup_id(now: datetime | None = None) -> str:
    """Return a sortable id for a full backup taken now (UTC), e.g. 20261122T031500Z."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def write_manifest(
    folder: Path,
    *,
    names: list[str],
    backup: str,
    model_id: str,
    books: dict[str, dict],
    counts: dict[str, int],
) -> dict:
    """Write manifest.json for the named files in folder and return it.

    `books` maps each book id to its content hash and the fingerprint of the per-book bundle of
    that same text (None when no such bundle exists yet), which the backup references instead
    of copying again.
    """
    files = {
        name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
        for name in sorted(names)
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
