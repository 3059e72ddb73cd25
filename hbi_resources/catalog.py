"""The DuckDB catalog as a Dagster resource: where it is, and the core's SQL on it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from hbi.catalog import CatalogStore


class CatalogResource(dg.ConfigurableResource, CatalogStore):
    """Owns the SQL of the DuckDB catalog; connections are short so other processes can open it."""

    path: str | None = Field(default=None, description="default HBI_HOME/catalog/catalog.duckdb")
