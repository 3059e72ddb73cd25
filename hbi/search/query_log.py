"""The query log: one DuckDB row per search, for the library's search analytics.

Connections are short (open, append, close) because DuckDB lets one process at a time open a
file for writing: the CLI, the HTTP API and Dagster runs take turns. A search never fails
because the log is busy: after `LOCK_RETRIES` attempts the entry is dropped with a warning.

Importing DuckDB takes longer than a lexical search, so the CLI queues its entry in a small
SQLite file beside the log (`QueryLog.queue`, standard library only); the next append, read or
summary of the log moves the queued entries into DuckDB first.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hbi.search.models import SearchResult

if TYPE_CHECKING:
    import duckdb

TABLE = "search_queries"
COLUMNS = {
    "logged_at": "TIMESTAMPTZ NOT NULL",
    "query": "VARCHAR NOT NULL",
    "mode": "VARCHAR NOT NULL",
    "filters": "VARCHAR NOT NULL",  # JSON object of the filters that were set
    "k": "INTEGER NOT NULL",
    "offset": "INTEGER NOT NULL",
    "latency_ms": "DOUBLE NOT NULL",
    "hit_count": "INTEGER NOT NULL",
    "top_book_id": "VARCHAR",
    "top_chunk_id": "BIGINT",
    "source": "VARCHAR NOT NULL",  # who asked: cli, api, dagster, python
}
SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    + ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS.items())
    + ")"
)
LOCK_RETRIES = 20
LOCK_WAIT_S = 0.05
QUEUE_SCHEMA = "CREATE TABLE IF NOT EXISTS queued (id INTEGER PRIMARY KEY, entry TEXT NOT NULL)"
# Longer than a drain holds the queue: up to LOCK_RETRIES waits for DuckDB, then one insert.
QUEUE_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryLogEntry:
    """One search as the log stores it."""

    logged_at: datetime
    query: str
    mode: str
    filters: dict
    k: int
    offset: int
    latency_ms: float
    hit_count: int
    top_book_id: str | None
    top_chunk_id: int | None
    source: str

    @classmethod
    def from_result(cls, result: SearchResult, source: str = "python") -> QueryLogEntry:
        """Return the entry describing a finished search."""
        top = result.hits[0] if result.hits else None
        return cls(
            logged_at=datetime.now(UTC),
            query=result.query,
            mode=result.mode,
            filters=result.filters.as_dict(),
            k=result.k,
            offset=result.offset,
            latency_ms=result.took_ms,
            hit_count=len(result.hits),
            top_book_id=top.book_id if top else None,
            top_chunk_id=top.chunk_id if top else None,
            source=source,
        )

    def to_json(self) -> str:
        """Return the entry as a JSON object (the queue's form)."""
        return json.dumps(
            {**dataclasses.asdict(self), "logged_at": self.logged_at.isoformat()},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> QueryLogEntry:
        """Return the entry a `to_json` object describes."""
        fields = json.loads(text)
        return cls(**{**fields, "logged_at": datetime.fromisoformat(fields["logged_at"])})


class QueryLog:
    """Appends searches to the `search_queries` table of a DuckDB file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.queue_path = self.path.with_name(self.path.name + ".queue.sqlite")

    def _connect(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(LOCK_RETRIES):
            try:
                connection = duckdb.connect(str(self.path))
                connection.execute(SCHEMA)
                return connection
            except duckdb.IOException:  # another process holds the file
                if attempt == LOCK_RETRIES - 1:
                    raise
                time.sleep(LOCK_WAIT_S)
        raise AssertionError("unreachable")

    def append(self, entry: QueryLogEntry) -> bool:
        """Append one entry; return False (and warn) if the file stayed locked."""
        return self.append_many([entry])

    def queue(self, entry: QueryLogEntry) -> bool:
        """Queue an entry for the log without loading DuckDB; return False (and warn) if locked."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            queue = sqlite3.connect(self.queue_path, timeout=QUEUE_TIMEOUT_S)
            with closing(queue), queue:
                queue.execute(QUEUE_SCHEMA)
                queue.execute("INSERT INTO queued (entry) VALUES (?)", [entry.to_json()])
        except sqlite3.OperationalError as exc:
            log.warning("query log queue %s is busy; a search not logged: %s", self.queue_path, exc)
            return False
        return True

    def append_many(self, entries: list[QueryLogEntry]) -> bool:
        """Append entries in one connection; return False (and warn) if the file stayed locked."""
        return self._write(entries)

    def flush_queue(self) -> bool:
        """Move the queued entries into DuckDB; return False (and warn) if it stayed locked."""
        return self._write([])

    def _write(self, entries: list[QueryLogEntry]) -> bool:
        """Append the queued entries, then entries; only DuckDB's commit empties the queue."""
        import duckdb

        queue = self._open_queue()
        try:
            queued = (
                queue.execute("SELECT entry FROM queued ORDER BY id").fetchall() if queue else []
            )
            if queued or entries:
                self._insert([*(QueryLogEntry.from_json(row[0]) for row in queued), *entries])
            if queued:
                queue.execute("DELETE FROM queued")
                queue.execute("COMMIT")
        except duckdb.IOException as exc:
            log.warning(
                "query log %s is busy; %d searches not logged: %s", self.path, len(entries), exc
            )
            return False
        finally:
            if queue is not None:
                queue.close()
        return True

    def _open_queue(self) -> sqlite3.Connection | None:
        """Return the queue in a write transaction (drains wait), or None if absent or busy."""
        if not self.queue_path.exists():
            return None
        queue = sqlite3.connect(self.queue_path, timeout=QUEUE_TIMEOUT_S, isolation_level=None)
        try:
            queue.execute(QUEUE_SCHEMA)
            queue.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            queue.close()
            log.warning("query log queue %s is busy; left for later: %s", self.queue_path, exc)
            return None
        return queue

    def _insert(self, entries: list[QueryLogEntry]) -> None:
        rows = [
            [
                entry.logged_at,
                entry.query,
                entry.mode,
                json.dumps(entry.filters, ensure_ascii=False),
                entry.k,
                entry.offset,
                entry.latency_ms,
                entry.hit_count,
                entry.top_book_id,
                entry.top_chunk_id,
                entry.source,
            ]
            for entry in entries
        ]
        names = ", ".join(f'"{name}"' for name in COLUMNS)
        placeholders = ", ".join("?" * len(COLUMNS))
        with self._connect() as connection:
            connection.executemany(f"INSERT INTO {TABLE} ({names}) VALUES ({placeholders})", rows)

    def record(self, result: SearchResult, source: str = "python") -> bool:
        """Append a finished search; return whether it was written."""
        return self.append(QueryLogEntry.from_result(result, source))

    def entries(self, limit: int = 1000) -> list[dict]:
        """Return the latest entries, newest first (filters decoded)."""
        self.flush_queue()
        with self._connect() as connection:
            cursor = connection.execute(
                f"SELECT * FROM {TABLE} ORDER BY logged_at DESC LIMIT ?", [limit]
            )
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for row in rows:
            row["filters"] = json.loads(row["filters"])
        return rows


def summarise(path: str | Path, top: int = 10) -> dict:
    """Return what the log says: counts by mode and source, top and zero-hit queries, latency."""
    import duckdb

    QueryLog(path).flush_queue()
    if not Path(path).exists():
        return {
            "searches": 0,
            "by_mode": {},
            "by_source": {},
            "top_queries": [],
            "zero_hit_queries": [],
            "latency_ms": {},
        }
    with duckdb.connect(str(path), read_only=True) as connection:

        def pairs(sql: str) -> list[tuple]:
            return connection.execute(sql, [top]).fetchall()

        total = connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        p50, p95, p99 = connection.execute(
            f"SELECT quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), "
            f"quantile_cont(latency_ms, 0.99) FROM {TABLE}"
        ).fetchone()
        return {
            "searches": total,
            "by_mode": dict(pairs(f"SELECT mode, count(*) FROM {TABLE} GROUP BY 1 LIMIT ?")),
            "by_source": dict(pairs(f"SELECT source, count(*) FROM {TABLE} GROUP BY 1 LIMIT ?")),
            "top_queries": pairs(
                f"SELECT lower(query) AS q, count(*) AS n FROM {TABLE} "
                "GROUP BY 1 ORDER BY n DESC, q LIMIT ?"
            ),
            "zero_hit_queries": pairs(
                f"SELECT lower(query) AS q, count(*) AS n FROM {TABLE} WHERE hit_count = 0 "
                "GROUP BY 1 ORDER BY n DESC, q LIMIT ?"
            ),
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
        }
