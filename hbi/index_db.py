"""Open HBI's SQLite index with the sqlite-vec extension loaded.

The Python 3.11 on our machines was built without `enable_load_extension`, so HBI uses APSW,
which bundles a current SQLite (with FTS5) and can load extensions on any platform it has wheels
for. Every place that opens the index goes through `connect`.
"""

from __future__ import annotations

from pathlib import Path

import apsw
import sqlite_vec

BUSY_TIMEOUT_MS = 30_000


def connect(path: Path | str, *, readonly: bool = False) -> apsw.Connection:
    """Return a connection to the index at path with sqlite-vec loaded, WAL and a busy timeout."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    flags = (
        apsw.SQLITE_OPEN_READONLY
        if readonly
        else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    )
    connection = apsw.Connection(str(path), flags=flags)
    connection.enable_load_extension(True)
    connection.load_extension(sqlite_vec.loadable_path())
    connection.enable_load_extension(False)
    connection.set_busy_timeout(BUSY_TIMEOUT_MS)
    if not readonly and path != ":memory:":
        connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def versions(connection: apsw.Connection) -> dict[str, str]:
    """Return the SQLite and sqlite-vec versions the connection runs."""
    sqlite_version, vec_version = connection.execute(
        "SELECT sqlite_version(), vec_version()"
    ).fetchone()
    return {"sqlite": sqlite_version, "sqlite_vec": vec_version}
