"""The resources HBI's definitions bind, configured from environment variables via dg.EnvVar."""

from __future__ import annotations

import dagster as dg

from hbi import config
from hbi_resources.catalog import CatalogResource
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.index import IndexResource
from hbi_resources.listing_state import ListingStateResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.search import SearchResource


def env_resources() -> dict[str, dg.ConfigurableResource]:
    """Return HBI's resources, each reading its connection settings from the environment."""
    graph = GraphResource(
        uri=dg.EnvVar(config.ENV_NEO4J_URI),
        user=dg.EnvVar(config.ENV_NEO4J_USER),
        password=dg.EnvVar(config.ENV_NEO4J_PASSWORD),
        database=dg.EnvVar(config.ENV_NEO4J_DATABASE),
    )
    return {
        "object_store": ObjectStoreResource(
            endpoint=dg.EnvVar(config.ENV_MINIO_ENDPOINT),
            access_key=dg.EnvVar(config.ENV_MINIO_ACCESS_KEY),
            secret_key=dg.EnvVar(config.ENV_MINIO_SECRET_KEY),
            books_bucket=dg.EnvVar(config.ENV_BOOKS_BUCKET),
            backups_bucket=dg.EnvVar(config.ENV_BACKUPS_BUCKET),
        ),
        "graph": graph,
        "index": IndexResource(),
        "embedder": EmbedderResource(),
        "catalog": CatalogResource(),
        "listing_state": ListingStateResource(),
        "search": SearchResource(embedder=EmbedderResource(), graph=graph),
    }
