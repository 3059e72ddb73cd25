"""DuckDB: the library catalog (one row per book) that analytics and the UI read; its SQL.

`CatalogStore` needs a `path` attribute (None: the current HBI_HOME's catalog).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from hbi import config

CATALOG_COLUMNS = {
    "book_id": "VARCHAR PRIMARY KEY",
    "title": "VARCHAR",
    "authors": "VARCHAR[]",
    "format": "VARCHAR",
    "language": "VARCHAR",
    "publisher": "VARCHAR",
    "date": "VARCHAR",
    "identifiers": "VARCHAR[]",
    "object_key": "VARCHAR",
    "size_bytes": "BIGINT",
    "pages": "INTEGER",
    "chunks": "INTEGER",
    "tokens": "BIGINT",
    "vectors": "INTEGER",
    "toc_entries": "INTEGER",
    "toc_depth": "INTEGER",
    "toc_derived": "BOOLEAN",
    "index_terms": "INTEGER",
    "extract_s": "DOUBLE",
    "embed_s": "DOUBLE",
    "indexed_at": "VARCHAR",
    "embedded_at": "VARCHAR",
    "backed_up": "BOOLEAN",
    "model_id": "VARCHAR",
}


def default_catalog_path() -> str:
    """Return the catalog file of the current HBI_HOME (overridable with HBI_CATALOG_PATH)."""
    return os.environ.get("HBI_CATALOG_PATH") or str(config.layout().catalog_db)


class CatalogStore:
    """Owns the SQL of the DuckDB catalog; connections are short so other processes can open it."""

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        path = Path(self.path or default_catalog_path())
        path.parent.mkdir(parents=True, exist_ok=True)
        if read_only and not path.exists():
            read_only = False
        connection = duckdb.connect(str(path), read_only=read_only)
        if not read_only:
            columns = ", ".join(f"{name} {kind}" for name, kind in CATALOG_COLUMNS.items())
            connection.execute(f"CREATE TABLE IF NOT EXISTS books ({columns})")
        return connection

    def replace_books(self, rows: list[dict]) -> int:
        """Replace the whole catalog with rows in one transaction; return the row count."""
        names = list(CATALOG_COLUMNS)
        with self.connect() as connection:
            connection.execute("BEGIN TRANSACTION")
            connection.execute("DELETE FROM books")
            if rows:
                marks = ", ".join("?" * len(names))
                connection.executemany(
                    f"INSERT INTO books ({', '.join(names)}) VALUES ({marks})",
                    [[row.get(name) for name in names] for row in rows],
                )
            connection.execute("COMMIT")
            return connection.execute("SELECT count(*) FROM books").fetchone()[0]

    def delete_book(self, book_id: str) -> None:
        """Remove one book's catalog row."""
        with self.connect() as connection:
            connection.execute("DELETE FROM books WHERE book_id = ?", [book_id])

    def book_ids(self) -> list[str]:
        """Return the ids of the catalogued books."""
        with self.connect() as connection:
            return [
                r[0] for r in connection.execute("SELECT book_id FROM books ORDER BY 1").fetchall()
            ]

    def file_size(self) -> int:
        """Return the catalog file's size in bytes."""
        path = Path(self.path or default_catalog_path())
        return path.stat().st_size if path.exists() else 0

    def restore_parquet(self, parquet: Path) -> int:
        """Replace the catalog with the rows of a backup's catalog.parquet; return the count.

        An empty file stands for a library that had no catalog yet.
        """
        names = ", ".join(CATALOG_COLUMNS)
        with self.connect() as connection:
            connection.execute("BEGIN TRANSACTION")
            connection.execute("DELETE FROM books")
            if parquet.stat().st_size:
                connection.execute(
                    f"INSERT INTO books ({names}) SELECT {names} FROM read_parquet(?)",
                    [str(parquet)],
                )
            connection.execute("COMMIT")
            return connection.execute("SELECT count(*) FROM books").fetchone()[0]


@dataclass(frozen=True)
class Catalog(CatalogStore):
    """The catalog outside Dagster."""

    path: str | None = None
