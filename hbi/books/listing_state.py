"""What the books sensor saw in the bucket, kept in a table that can grow.

The sensor's cursor would have to carry every key and ETag (megabytes for 10,000 books, stored
again with every tick), so the listing lives in a small SQLite file under HBI_HOME/state and the
cursor keeps only a tick number. Each row records one object as some tick saw it. A tick's rows
count only once Dagster has stored that tick's cursor (and so its run requests): the next tick
reads the committed tick from the cursor and first deletes rows of any later tick, whose result
was lost, so their objects are diffed and requested again. Rows written outside the sensor (the
CLI ingests and restores, which run their books themselves) have no tick and count at once.
Each run key carries the object's ETag and generation, so a tick evaluated twice never runs a
book twice, while a book deleted and uploaded again is indexed again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import apsw

from hbi import config
from hbi.books.listing import SeenObject
from hbi.index.db import write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS listing_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tick INTEGER,                     -- the sensor tick that wrote it; NULL: committed at once
    object_key TEXT NOT NULL,
    etag TEXT NOT NULL,
    book_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    present INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS listing_log_key ON listing_log(object_key, seq);
"""
# The newest row of each key: what the state says of that object.
LATEST = (
    "SELECT object_key, etag, book_id, generation, present FROM listing_log l "
    "WHERE seq = (SELECT max(seq) FROM listing_log m WHERE m.object_key = l.object_key)"
)


def default_state_path() -> str:
    """Return the sensor state file of the current HBI_HOME."""
    return os.environ.get("HBI_STATE_PATH") or str(config.hbi_home() / "state" / "sensor.sqlite")


class ListingStateStore:
    """Stores the books bucket's listing as the sensor last saw it (needs a `path` attribute)."""

    def connect(self) -> apsw.Connection:
        path = self.path or default_state_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        connection = apsw.Connection(path)
        connection.set_busy_timeout(30_000)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SCHEMA)
        return connection

    def begin_tick(self, committed_tick: int) -> int:
        """Forget rows of ticks after the committed one, fold old rows; return the new tick."""
        connection = self.connect()
        with write_transaction(connection):
            connection.execute("DELETE FROM listing_log WHERE tick > ?", (committed_tick,))
            connection.execute(
                "DELETE FROM listing_log WHERE seq < "
                "(SELECT max(seq) FROM listing_log m WHERE m.object_key = listing_log.object_key)"
            )
        return committed_tick + 1

    def seen(self) -> dict[str, SeenObject]:
        """Return the objects present at the last look, by key."""
        return {
            key: SeenObject(key, etag, book_id, generation)
            for key, etag, book_id, generation, present in self.connect().execute(LATEST)
            if present
        }

    def generations(self, keys: list[str]) -> dict[str, int]:
        """Return the last generation of each key ever seen (present or deleted since)."""
        wanted = set(keys)
        rows = self.connect().execute(LATEST)
        return {key: generation for key, _, _, generation, _ in rows if key in wanted}

    def record(
        self, upserts: list[SeenObject], deleted: list[str], tick: int | None = None
    ) -> None:
        """Store the new and changed objects and mark the deleted ones, in one transaction."""
        connection = self.connect()
        with write_transaction(connection):
            connection.executemany(
                "INSERT INTO listing_log (tick, object_key, etag, book_id, generation, present) "
                "VALUES (?, ?, ?, ?, ?, 1)",
                [(tick, o.object_key, o.etag, o.book_id, o.generation) for o in upserts],
            )
            connection.executemany(
                "INSERT INTO listing_log (tick, object_key, etag, book_id, generation, present) "
                "SELECT ?, object_key, etag, book_id, generation, 0 FROM listing_log "
                "WHERE object_key = ? ORDER BY seq DESC LIMIT 1",
                [(tick, key) for key in deleted],
            )


@dataclass(frozen=True)
class ListingState(ListingStateStore):
    """The sensor's listing state outside Dagster."""

    path: str | None = None
