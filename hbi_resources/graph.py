"""Neo4j: the graph that holds every book's table of contents and back-of-book index."""

from __future__ import annotations

import os

import dagster as dg
import neo4j
from neo4j.exceptions import Neo4jError, ServiceUnavailable
from pydantic import Field

from hbi import config
from hbi_resources.health import ServiceHealth


class GraphResource(dg.ConfigurableResource):
    """Opens Bolt sessions on Neo4j and checks that the server answers."""

    uri: str = Field(description="Bolt URI, e.g. bolt://127.0.0.1:7687")
    user: str = "neo4j"
    password: str
    database: str = config.DEFAULT_NEO4J_DATABASE

    @classmethod
    def from_env(cls) -> GraphResource:
        """Build the resource from HBI's environment variables (after `load_stack_env`)."""
        env = os.environ
        return cls(
            uri=env[config.ENV_NEO4J_URI],
            user=env.get(config.ENV_NEO4J_USER, "neo4j"),
            password=env[config.ENV_NEO4J_PASSWORD],
            database=env.get(config.ENV_NEO4J_DATABASE, config.DEFAULT_NEO4J_DATABASE),
        )

    def driver(self) -> neo4j.Driver:
        """Return a new driver; the caller closes it (use it as a context manager)."""
        return neo4j.GraphDatabase.driver(
            self.uri,
            auth=(self.user, self.password),
            connection_timeout=10.0,
            max_transaction_retry_time=30.0,
        )

    def health(self) -> ServiceHealth:
        """Return whether Bolt answers a query with HBI's credentials, and the server version."""
        # A plain session.run, not execute_query: a health check reports at once, it never retries.
        try:
            with self.driver() as driver, driver.session(database=self.database) as session:
                record = session.run(
                    "CALL dbms.components() YIELD versions, edition "
                    "RETURN versions[0] AS version, edition"
                ).single()
        except (Neo4jError, ServiceUnavailable, OSError, ValueError) as exc:
            return ServiceHealth("neo4j", False, self.uri, detail=str(exc).splitlines()[0])
        return ServiceHealth(
            "neo4j", True, self.uri, version=f"{record['version']} {record['edition']}"
        )
