"""Retry a step when a server hiccups, and only then: a bad book or a bug fails at once.

A step that meets a transient error asks Dagster to run it again, waiting longer each time
(5, 15, then 45 s: about a minute in all, longer than a Neo4j restart), and once the retries are
spent it fails with a message that names its book, the server and the cause.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import apsw
import dagster as dg
import urllib3
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

# Which server a transient error comes from, for the failure message.
TRANSIENT_SOURCES = (
    (ServiceUnavailable, "Neo4j"),  # down or restarting (IncompleteCommit is one too)
    (SessionExpired, "Neo4j"),
    (TransientError, "Neo4j"),  # deadlock, lock timeout, database not yet available
    (urllib3.exceptions.HTTPError, "MinIO"),  # unreachable after the client's own retries
    (apsw.BusyError, "the SQLite index"),  # stayed locked past the busy timeout
    (ConnectionError, "a server"),
    (TimeoutError, "a server"),
)
TRANSIENT_ERRORS = tuple(error for error, _ in TRANSIENT_SOURCES)
MAX_RETRIES = 3
SECONDS_TO_WAIT = 5
BACKOFF = 3


def seconds_before_retry(retry_number: int) -> int:
    """Return how long to wait before the next attempt of a step already retried that often."""
    return SECONDS_TO_WAIT * BACKOFF**retry_number


def transient_failure(exc: BaseException, subject: str) -> dg.Failure:
    """Return the failure that reports exc: the step's subject, the server, and the cause."""
    service = next(name for error, name in TRANSIENT_SOURCES if isinstance(exc, error))
    cause = " ".join(str(exc).split()) or type(exc).__name__
    failure = dg.Failure(
        description=f"{subject}: {service} is unavailable: {cause}",
        metadata={"service": service, "error": type(exc).__name__, "cause": cause},
    )
    failure.__cause__ = exc
    return failure


def _current_step() -> tuple[str, int]:
    """Return what the running step works on (its book, else its step) and its retry number."""
    try:
        context = dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:  # outside a run, e.g. an asset invoked directly
        return "step", 0
    subject = context.partition_key if context.has_partition_key else context.op_def.name
    return subject, context.retry_number


@contextmanager
def retry_transient_errors() -> Iterator[None]:
    """Turn a server or lock error raised in the block into a Dagster retry of the step."""
    try:
        yield
    except TRANSIENT_ERRORS as exc:
        subject, retry_number = _current_step()
        raise dg.RetryRequested(
            max_retries=MAX_RETRIES, seconds_to_wait=seconds_before_retry(retry_number)
        ) from transient_failure(exc, subject)
