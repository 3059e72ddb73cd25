"""The books sensor's listing state as a Dagster resource (its SQL: hbi/books/listing_state.py)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from hbi.books.listing_state import ListingStateStore


class ListingStateResource(dg.ConfigurableResource, ListingStateStore):
    """Stores the books bucket's listing as the sensor last saw it."""

    path: str | None = Field(default=None, description="default HBI_HOME/state/sensor.sqlite")
