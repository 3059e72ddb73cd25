"""Retry a step when a server hiccups, and only then: a bad book or a bug fails at once."""

from collections.abc import Iterator
from contextlib import contextmanager

import apsw
import dagster as dg
import urllib3
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

TRANSIENT_ERRORS = (
    ServiceUnavailable,  # Neo4j down or restarting
    SessionExpired,
    TransientError,  # Neo4j deadlock or lock timeout
    urllib3.exceptions.HTTPError,  # MinIO unreachable (after the client's own retries)
    ConnectionError,
    TimeoutError,
    apsw.BusyError,  # the index stayed locked past the busy timeout
)
MAX_RETRIES = 3
SECONDS_TO_WAIT = 5


@contextmanager
def retry_transient_errors() -> Iterator[None]:
    """Turn a server or lock error raised in the block into a Dagster retry of the step."""
    try:
        yield
    except TRANSIENT_ERRORS as exc:
        raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=SECONDS_TO_WAIT) from exc
