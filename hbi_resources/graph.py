"""Neo4j as a Dagster resource: the connection settings, and the core client's Cypher."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from hbi import config
from hbi.graph.store import GraphClient


class GraphResource(dg.ConfigurableResource, GraphClient):
    """Opens Bolt sessions on Neo4j and checks that the server answers."""

    uri: str = Field(description="Bolt URI, e.g. bolt://127.0.0.1:7687")
    user: str = "neo4j"
    password: str
    database: str = config.DEFAULT_NEO4J_DATABASE
    transaction_retry_s: float = Field(
        default=10.0,
        description="How long the driver retries a transaction on a transient error; a longer "
        "outage is left to the step's retries (hbi_assets/retries.py), which Dagster shows",
    )
