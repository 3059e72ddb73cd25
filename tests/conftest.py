"""Session fixtures: one real MinIO and one real Neo4j on free loopback ports for the whole run.

They are started with the same provisioning code as `hbi stack up` (so the first run on a
machine builds MinIO and fetches Neo4j into HBI_CACHE_DIR), in a temporary HBI_HOME, and
stopped at the end. Nothing is mocked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from hbi import config
from hbi.stack import LocalStack
from hbi.stack.dagster_home import ensure_dagster_home
from hbi.stack.process import free_port
from hbi_assets.sensors import sensor_tick as evaluate_tick
from hbi_resources.graph import GraphResource
from hbi_resources.listing_state import ListingStateResource
from hbi_resources.object_store import ObjectStoreResource

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """Return the shared test data folder (`HBI_SHARED_DIR`, default `<repo>/../shared`)."""
    return Path(os.environ.get("HBI_SHARED_DIR") or REPO_ROOT.parent / "shared").resolve()


def _clean_environment(mp: pytest.MonkeyPatch) -> None:
    # A developer's shell may hold `eval "$(hbi stack env)"` exports; tests must never touch
    # that installation, so every HBI connection variable starts unset.
    for key in list(os.environ):
        if key.startswith(("HBI_MINIO", "HBI_NEO4J", "HBI_BOOKS", "HBI_BACKUPS")) or key in (
            "HBI_HOME",
            "DAGSTER_HOME",
        ):
            mp.delenv(key)


def start_test_stack(home: Path, mp: pytest.MonkeyPatch) -> LocalStack:
    """Start a stack in home on free ports, with the memory settings tests need."""
    _clean_environment(mp)
    mp.setenv("HBI_HOME", str(home))
    mp.setenv("HBI_MINIO_PORT", str(free_port()))
    mp.setenv("HBI_MINIO_CONSOLE_PORT", str(free_port()))
    mp.setenv("HBI_NEO4J_BOLT_PORT", str(free_port()))
    mp.setenv("HBI_NEO4J_HEAP", "384m")
    mp.setenv("HBI_NEO4J_PAGECACHE", "128m")
    stack = LocalStack(home)
    stack.up()
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The session's running MinIO + Neo4j, with HBI's variables pointing at them."""
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("hbi-home")
    running = start_test_stack(home, mp)
    for key, value in running.env().items():
        mp.setenv(key, value)
    ObjectStoreResource.from_env().ensure_buckets()
    ensure_dagster_home(running.layout.dagster_home)
    try:
        yield running
    finally:
        running.down()
        mp.undo()


@pytest.fixture(scope="session")
def object_store(stack: LocalStack) -> ObjectStoreResource:
    return ObjectStoreResource.from_env()


@pytest.fixture(scope="session")
def graph(stack: LocalStack) -> GraphResource:
    return GraphResource.from_env()


@pytest.fixture
def home_layout(stack: LocalStack) -> config.HomeLayout:
    return stack.layout


@pytest.fixture(scope="session")
def ingested(stack: LocalStack) -> dict[str, dict]:
    """Every corpus book added through the CLI's code path and materialized through Dagster."""
    from hbi.cli.books import add_books, materialize_books

    added = add_books((shared_dir() / "corpus",))
    outcomes = materialize_books([a["book_id"] for a in added])
    return {o["book_id"]: o for o in outcomes}


class SensorLog:
    """Collects what the books sensor logs, in place of a Dagster sensor context's log."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def bucket(object_store: ObjectStoreResource, tmp_path):
    """A fresh books bucket with its own sensor state, so tests do not interfere."""
    name = f"books-{uuid.uuid4().hex[:12]}"
    store = object_store.model_copy(update={"books_bucket": name})
    store.client().make_bucket(name)
    state = ListingStateResource(path=str(tmp_path / "sensor.sqlite"))
    return store, state


class SensorCursor:
    """The cursor Dagster would store between ticks of the books sensor."""

    def __init__(self) -> None:
        self.value: str | None = None


def sensor_tick(
    bucket, cursor: SensorCursor | None = None
) -> tuple[dg.SensorResult | dg.SkipReason, SensorLog]:
    """Evaluate the books sensor once over (store, state), committing its cursor, as the daemon
    does when it stores a tick's result."""
    log = SensorLog()
    cursor = (
        cursor if cursor is not None else bucket_cursors.setdefault(id(bucket[1]), SensorCursor())
    )
    result = evaluate_tick(*bucket, log, cursor.value)
    if isinstance(result, dg.SensorResult):
        cursor.value = result.cursor
    return result, log


bucket_cursors: dict[int, SensorCursor] = {}
