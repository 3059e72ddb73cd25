"""What the books sensor saw in the bucket last time, kept in a table that can grow.

The sensor's cursor would have to carry every key and ETag (megabytes for 10,000 books, stored
again with every tick), so the listing lives in a small SQLite file under HBI_HOME/state and the
cursor keeps only a summary. Rows are written after a tick has decided its run requests; each
request's run key carries the object's ETag and generation, so a tick evaluated twice never runs
a book twice, while a book deleted and uploaded again is indexed again.
"""

from __future__ import annotations

import os

import apsw
import dagster as dg
from pydantic import Field

from hbi import config
from hbi.index_db import write_transaction
from hbi.listing import SeenObject

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_objects (
    object_key TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    book_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    present INTEGER NOT NULL
);
"""


def default_state_path() -> str:
    """Return the sensor state file of the current HBI_HOME."""
    return os.environ.get("HBI_STATE_PATH") or str(config.hbi_home() / "state" / "sensor.sqlite")


class ListingStateResource(dg.ConfigurableResource):
    """Stores the books bucket's listing as the sensor last saw it."""

    path: str | None = Field(default=None, description="default HBI_HOME/state/sensor.sqlite")

    def connect(self) -> apsw.Connection:
        path = self.path or default_state_path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        connection = apsw.Connection(path)
        connection.set_busy_timeout(30_000)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SCHEMA)
        return connection

    def seen(self) -> dict[str, SeenObject]:
        """Return the objects present at the last tick, by key."""
        return {
            key: SeenObject(key, etag, book_id, generation)
            for key, etag, book_id, generation in self.connect().execute(
                "SELECT object_key, etag, book_id, generation FROM seen_objects WHERE present"
            )
        }

    def generations(self, keys: list[str]) -> dict[str, int]:
        """Return the last generation of each key ever seen (present or deleted since)."""
        wanted = set(keys)
        rows = self.connect().execute("SELECT object_key, generation FROM seen_objects")
        return {key: generation for key, generation in rows if key in wanted}

    def record(self, upserts: list[SeenObject], deleted: list[str]) -> None:
        """Store the new and changed objects and mark the deleted ones, in one transaction."""
        connection = self.connect()
        with write_transaction(connection):
            connection.executemany(
                "INSERT INTO seen_objects (object_key, etag, book_id, generation, present) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT(object_key) DO UPDATE SET "
                "etag = excluded.etag, book_id = excluded.book_id, "
                "generation = excluded.generation, present = 1",
                [(o.object_key, o.etag, o.book_id, o.generation) for o in upserts],
            )
            connection.executemany(
                "UPDATE seen_objects SET present = 0 WHERE object_key = ?",
                [(key,) for key in deleted],
            )
