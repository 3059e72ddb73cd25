"""The local SQLite index (FTS5 + sqlite-vec) as a resource: where it is, and a connection."""

from __future__ import annotations

import apsw
import dagster as dg
from pydantic import Field

from hbi.index.db import connect, default_index_path


class IndexResource(dg.ConfigurableResource):
    """Locates this deployment's index, the projection of the library that its searches read."""

    path: str | None = Field(
        default=None, description="Index file; default HBI_INDEX_PATH or HBI_HOME/index/hbi.sqlite"
    )

    def file_path(self) -> str:
        """Return the index file."""
        return self.path or default_index_path()

    def connect(self) -> apsw.Connection:
        """Return a connection to the index (schema created, sqlite-vec loaded)."""
        return connect(self.file_path())
