"""MinIO as a Dagster resource: the connection settings, and the core client's calls."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from hbi import config
from hbi.storage.object_store import ObjectStoreClient


class ObjectStoreResource(dg.ConfigurableResource, ObjectStoreClient):
    """Talks S3 to MinIO: reads books, writes bundles, checks that the server answers."""

    endpoint: str = Field(description="host:port of the S3 API, e.g. 127.0.0.1:9000")
    access_key: str
    secret_key: str
    secure: bool = False
    books_bucket: str = config.DEFAULT_BOOKS_BUCKET
    backups_bucket: str = config.DEFAULT_BACKUPS_BUCKET
    timeout_s: float = 30.0
