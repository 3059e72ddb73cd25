"""Faults with real servers and real index files: Neo4j stopped in the middle of a ToC-graph
write, MinIO stopped under the sensor and under a run, a writer killed with SIGKILL, and an
index held by a long reader, an online backup or another writer.

Servers are stopped the way `hbi stack down` stops them (SIGTERM) and are always running again
before a test ends. Nothing is mocked. Tests of a failure path shrink the step retry policy
(hbi_assets/retries.py) to one retry a second later, so that they end in seconds.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import apsw
import dagster as dg
import pytest
import urllib3
from neo4j.exceptions import ServiceUnavailable, TransientError

from hbi.index_db import connect
from hbi.records import BookRows
from hbi.snapshot import snapshot_sqlite
from hbi.stack import LocalStack
from hbi_assets import retries
from hbi_assets.books import book_assets, book_text, book_toc_graph
from hbi_assets.partitions import books_partitions
from hbi_assets.sensors import books_bucket_sensor
from hbi_resources.graph import GraphResource
from hbi_resources.listing_state import ListingStateResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource
from tests.resilience.fault_drills import (
    WhenTrue,
    add_book,
    assert_index_intact,
    book_rows,
    drill_vectors,
    graph_write_running,
    kill_while_writing,
    remove_books,
    retried_steps,
    run_book,
    running_afterwards,
    step_failures,
    step_retried,
    text_heavy_book,
    text_state,
    toc_heavy_book,
    vector_state,
    vectors_not_matching_their_text,
    write_versions,
)

DRILL_BOOK = "drill.md"
WORDS = ["alpha", "omega"]
SMALL_TOC_PARTS = 20  # 41 ToC entries
LARGE_TOC_PARTS = 4000  # 8,001 entries: a graph write of a few seconds
KILL_TRIALS = 4
MODELS = ["drill-model-a", "drill-model-b"]


def graph_counts(parts: int) -> dict[str, int]:
    """Return the graph counts of a toc_heavy_book with that many parts."""
    entries = 2 * parts + 1
    return {"sections": entries, "next_links": entries - 1, "terms": 0}


def sqlite_state(book_id: str) -> tuple[dict, dict]:
    """Return the book's text and vector state in the session's index."""
    connection = TextIndexResource().connect()
    return text_state(connection, book_id, WORDS), vector_state(connection, book_id)


@pytest.fixture
def drill_key(object_store: ObjectStoreResource) -> Iterator[Callable[[], str]]:
    """Give fresh object keys (each its own book id) for a test's books; afterwards those books
    are removed from the index, the graph and the buckets, so other tests never see them."""
    keys: list[str] = []

    def new_key() -> str:
        keys.append(f"drill-{uuid.uuid4().hex[:10]}.md")
        return keys[-1]

    yield new_key
    remove_books(keys, object_store)


@pytest.fixture
def one_retry_a_second_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the step retry policy, so that a run against a stopped server fails in seconds."""
    monkeypatch.setattr(retries, "MAX_RETRIES", 1)
    monkeypatch.setattr(retries, "SECONDS_TO_WAIT", 1)


# --- the retry policy -------------------------------------------------------------------------


def test_retries_wait_longer_each_time_and_outlast_a_neo4j_restart() -> None:
    waits = [retries.seconds_before_retry(n) for n in range(retries.MAX_RETRIES)]
    assert waits == [5, 15, 45]
    # A Neo4j restart takes 15-30 s; the retries cover a minute.
    assert sum(waits) >= 60


@pytest.mark.parametrize(
    ("error", "service"),
    [
        (ServiceUnavailable("Couldn't connect to 127.0.0.1:7687"), "Neo4j"),
        (TransientError("Database unavailable"), "Neo4j"),
        (urllib3.exceptions.ProtocolError("Connection aborted."), "MinIO"),
        (apsw.BusyError("database is locked"), "the SQLite index"),
        (ConnectionResetError("Connection reset by peer"), "a server"),
    ],
)
def test_a_transient_error_becomes_a_failure_naming_book_server_and_cause(
    error: Exception, service: str
) -> None:
    failure = retries.transient_failure(error, "war.md")
    assert failure.description == f"war.md: {service} is unavailable: {error}"
    assert failure.__cause__ is error


# --- Neo4j stopped in the middle of a ToC-graph write -----------------------------------------


@pytest.fixture
def book_outgrowing_its_graph(graph: GraphResource, drill_key: Callable[[], str]) -> str:
    """A book whose graph holds its old 41-entry ToC while its text index already holds its new
    8,001-entry one: the state in which automation runs book_toc_graph after book_text."""
    book_id = drill_key()
    text = TextIndexResource()
    text.replace_book(book_rows(toc_heavy_book("Drill", SMALL_TOC_PARTS), book_id))
    graph.replace_book_from_index(text, book_id)
    text.replace_book(book_rows(toc_heavy_book("Drill", LARGE_TOC_PARTS), book_id))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(books_partitions.name, [book_id])
    return book_id


@pytest.mark.integration
@pytest.mark.usefixtures("one_retry_a_second_later")
def test_a_graph_write_cut_off_by_stopping_neo4j_fails_clearly_and_changes_nothing(
    stack: LocalStack, graph: GraphResource, book_outgrowing_its_graph: str
) -> None:
    book_id = book_outgrowing_its_graph
    sqlite_before = sqlite_state(book_id)
    with (
        running_afterwards(stack.neo4j),
        WhenTrue(graph_write_running(graph), stack.neo4j.stop) as stop,
    ):
        result = run_book(book_id, [book_toc_graph])
    assert stop.done, "Neo4j was not stopped during the write"
    assert not result.success
    [message] = step_failures(result)
    assert message.startswith(f"{book_id}: Neo4j is unavailable: ")
    assert sqlite_state(book_id) == sqlite_before
    assert graph.counts(book_id) == graph_counts(SMALL_TOC_PARTS)


@pytest.mark.integration
def test_a_retry_completes_a_cut_off_graph_write_once_neo4j_is_back(
    stack: LocalStack, graph: GraphResource, book_outgrowing_its_graph: str
) -> None:
    book_id = book_outgrowing_its_graph
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:
        retried = step_retried(instance, run_id)
        with (
            running_afterwards(stack.neo4j),
            WhenTrue(graph_write_running(graph), stack.neo4j.stop) as stop,
            WhenTrue(lambda: stop.done and retried(), stack.neo4j.start) as start,
        ):
            result = run_book(book_id, [book_toc_graph], instance=instance, run_id=run_id)
    assert stop.done and start.done
    assert result.success, step_failures(result)
    assert "book_toc_graph" in retried_steps(result)
    assert graph.counts(book_id) == graph_counts(LARGE_TOC_PARTS)


# --- MinIO stopped under the sensor and under a run -------------------------------------------


@pytest.mark.integration
def test_a_sensor_tick_while_minio_is_stopped_is_skipped_and_deletes_nothing(
    stack: LocalStack, object_store: ObjectStoreResource, tmp_path: Path
) -> None:
    bucket = f"books-{uuid.uuid4().hex[:12]}"
    store = ObjectStoreResource(**{**object_store.model_dump(), "books_bucket": bucket})
    store.client().make_bucket(bucket)
    for key in ("a.txt", "b.md"):
        store.put_bytes(bucket, key, b"Some text.", "text/plain")
    state = ListingStateResource(path=str(tmp_path / "sensor.sqlite"))
    resources = {
        "object_store": store,
        "listing_state": state,
        "text_index": TextIndexResource(path=str(tmp_path / "index.sqlite")),
    }

    def tick() -> dg.SensorResult | dg.SkipReason:
        return books_bucket_sensor(dg.build_sensor_context(resources=resources))

    assert len(tick().run_requests) == 2
    seen = state.seen()
    with stack.stopped("minio"):
        skipped = tick()
    assert isinstance(skipped, dg.SkipReason)
    assert f"listing bucket {bucket!r} failed, nothing changed" in skipped.skip_message
    assert state.seen() == seen
    assert tick().run_requests == []


@pytest.mark.integration
@pytest.mark.usefixtures("one_retry_a_second_later")
def test_a_book_run_while_minio_is_stopped_fails_clearly_and_keeps_the_indexed_version(
    stack: LocalStack, tmp_path: Path, drill_key: Callable[[], str]
) -> None:
    key = drill_key()
    add_book(tmp_path, key, text_heavy_book("Drill", ["alpha"] * 40))
    assert run_book(key, [book_text]).success
    add_book(tmp_path, key, text_heavy_book("Drill", ["omega"] * 60))
    before = sqlite_state(key)
    with stack.stopped("minio"):
        result = run_book(key, book_assets)
    assert not result.success
    [message] = step_failures(result)
    assert message.startswith(f"{key}: MinIO is unavailable: ")
    assert retried_steps(result) == ["book_text"]
    assert sqlite_state(key) == before


@pytest.mark.integration
def test_a_book_run_retries_until_minio_is_back(
    stack: LocalStack, tmp_path: Path, drill_key: Callable[[], str]
) -> None:
    key = add_book(tmp_path, drill_key(), text_heavy_book("Drill", ["alpha"] * 30))
    run_id = str(uuid.uuid4())
    with (
        dg.DagsterInstance.get() as instance,
        stack.stopped("minio") as minio,
        WhenTrue(step_retried(instance, run_id), minio.start) as start,
    ):
        result = run_book(key, book_assets, instance=instance, run_id=run_id)
    assert start.done
    assert result.success, step_failures(result)
    assert set(retried_steps(result)) == {"book_text"}
    text, vectors = sqlite_state(key)
    assert text["fts"]["alpha"] == 30
    assert vectors["chunk_vectors"][0] == text["chunks"][0]


# --- a writer killed with SIGKILL in the middle of its transaction ----------------------------


@pytest.fixture(scope="module")
def drill_versions() -> tuple[BookRows, BookRows]:
    """An old and a new version of a 3,001-chunk book that share their first half."""
    old = book_rows(text_heavy_book("Drill", ["alpha"] * 3000), DRILL_BOOK)
    new = book_rows(text_heavy_book("Drill", ["alpha"] * 1500 + ["omega"] * 1500), DRILL_BOOK)
    return old, new


def write_book(index: Path, rows: BookRows, model: str = MODELS[0]) -> tuple[float, float]:
    """Write the book's rows and drill vectors from model into the index file; return how many
    seconds the text write and the vector write took."""
    started = time.perf_counter()
    TextIndexResource(path=str(index)).replace_book(rows)
    text_written = time.perf_counter()
    vectors = drill_vectors(rows, model)
    vectors_made = time.perf_counter()
    VectorIndexResource(path=str(index)).write_vectors(rows.book.book_id, model, vectors)
    return text_written - started, time.perf_counter() - vectors_made


def text_of(book_id: str, words: list[str]) -> Callable[[apsw.Connection], dict]:
    """Return a reader of the book's text state (see text_state)."""
    return lambda connection: text_state(connection, book_id, words)


def vectors_of(book_id: str) -> Callable[[apsw.Connection], dict]:
    """Return a reader of the book's vector state (see vector_state)."""
    return lambda connection: vector_state(connection, book_id)


def state_after(
    index: Path, rows: BookRows, read: Callable[[apsw.Connection], dict], model: str = MODELS[0]
) -> dict:
    """Return what read() finds in a fresh index holding only rows and drill vectors from model."""
    write_book(index, rows, model)
    return read(connect(index))


def kill_trials(
    kind: str,
    index: Path,
    versions: Path,
    write_s: float,
    check: Callable[[apsw.Connection], None],
) -> list[bool]:
    """SIGKILL the index writer at random moments within its first few writes (each about
    write_s long) and check the index after each kill; return whether each kill hit a write
    transaction."""
    rng = random.Random(8)
    hits = []
    for _ in range(KILL_TRIALS):
        delay = rng.uniform(0.0, 2.5 * write_s)
        hits.append(kill_while_writing(kind, index, versions, delay))
        connection = connect(index)
        assert_index_intact(connection)
        check(connection)
    return hits


def test_a_text_write_killed_midway_leaves_the_old_or_the_new_book_whole(
    tmp_path: Path, drill_versions: tuple[BookRows, BookRows]
) -> None:
    old, new = drill_versions
    read_drill = text_of(DRILL_BOOK, WORDS)
    expected = [
        state_after(tmp_path / f"{n}.sqlite", rows, read_drill)
        for n, rows in (("old", old), ("new", new))
    ]
    index = tmp_path / "index.sqlite"
    read_bystander = text_of("bystander.md", ["gamma"])
    bystander = state_after(
        index,
        book_rows(text_heavy_book("Bystander", ["gamma"] * 50), "bystander.md"),
        read_bystander,
    )
    write_s, _ = write_book(index, old)

    def check(connection: apsw.Connection) -> None:
        assert read_drill(connection) in expected
        assert vectors_not_matching_their_text(connection, DRILL_BOOK) == 0
        assert read_bystander(connection) == bystander

    versions = write_versions(tmp_path / "versions.pickle", [new, old])
    hits = kill_trials("text", index, versions, write_s, check)
    assert any(hits), "no kill landed inside a write transaction"
    TextIndexResource(path=str(index)).replace_book(new)
    assert read_drill(connect(index)) == expected[1]


def test_a_vector_write_killed_midway_leaves_one_model_s_vectors_whole(
    tmp_path: Path, drill_versions: tuple[BookRows, BookRows]
) -> None:
    rows = drill_versions[0]
    read = vectors_of(DRILL_BOOK)
    expected = [state_after(tmp_path / f"{m}.sqlite", rows, read, m) for m in MODELS]
    index = tmp_path / "index.sqlite"
    _, write_s = write_book(index, rows, MODELS[0])
    versions = []
    for model in MODELS:
        vectors = drill_vectors(rows, model)
        versions.append((DRILL_BOOK, model, vectors))

    def check(connection: apsw.Connection) -> None:
        assert read(connection) in expected
        assert vectors_not_matching_their_text(connection, DRILL_BOOK) == 0

    pickled = write_versions(tmp_path / "versions.pickle", versions[::-1])
    hits = kill_trials("vectors", index, pickled, write_s, check)
    assert any(hits), "no kill landed inside a write transaction"
    VectorIndexResource(path=str(index)).write_vectors(*versions[1])
    assert read(connect(index)) == expected[1]


# --- an index held by a long reader, an online backup or another writer -----------------------


def whole_books(index: Path) -> dict[str, bool]:
    """Return, for each book of an index file, whether all of its chunks are there."""
    connection = connect(index, readonly=True)
    return {
        book_id: chunk_count == found
        for book_id, chunk_count, found in connection.execute(
            "SELECT b.book_id, b.chunk_count, count(c.chunk_id) FROM books b "
            "LEFT JOIN chunks c ON c.book_id = b.book_id GROUP BY b.book_id"
        )
    }


def small_books(count: int) -> list[BookRows]:
    """Return that many distinct 201-chunk books."""
    return [
        book_rows(text_heavy_book(f"Book {n}", ["delta"] * 200), f"book-{n}.md")
        for n in range(count)
    ]


def test_books_are_written_while_a_long_read_and_an_online_backup_hold_the_index(
    tmp_path: Path, drill_versions: tuple[BookRows, BookRows]
) -> None:
    index = tmp_path / "index.sqlite"
    text = TextIndexResource(path=str(index))
    text.replace_book(drill_versions[0])
    reader = connect(index)
    reader.execute("BEGIN")
    chunks_seen = reader.execute("SELECT count(*) FROM chunks").fetchone()[0]
    done = threading.Event()
    copies: list[Path] = []
    answers: list[int] = []

    def back_up() -> None:
        while not done.is_set():
            copies.append(tmp_path / f"copy-{len(copies)}.sqlite")
            snapshot_sqlite(connect(index), copies[-1])

    def search() -> None:
        while not done.is_set():
            answers.append(len(text.search_bm25("river", 5)))

    threads = [threading.Thread(target=back_up), threading.Thread(target=search)]
    for thread in threads:
        thread.start()
    try:
        for rows in small_books(6):
            text.replace_book(rows)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert reader.execute("SELECT count(*) FROM chunks").fetchone()[0] == chunks_seen
    reader.execute("COMMIT")
    assert all(whole_books(index).values()) and len(whole_books(index)) == 7
    assert answers and all(answers)
    assert copies and all(all(whole_books(copy).values()) for copy in copies)


def test_a_writer_waits_out_another_writer_while_readers_keep_answering(
    tmp_path: Path, drill_versions: tuple[BookRows, BookRows]
) -> None:
    index = tmp_path / "index.sqlite"
    text = TextIndexResource(path=str(index))
    text.replace_book(drill_versions[0])
    [book] = small_books(1)
    holder = connect(index)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    writer_started = threading.Event()
    outcome: dict = {}

    def write() -> None:
        writer_started.set()
        text.replace_book(book)
        outcome["after_release"] = released.is_set()

    writer = threading.Thread(target=write)
    writer.start()
    writer_started.wait()
    answers = []
    held_until = time.monotonic() + 2.0
    while time.monotonic() < held_until:
        answers.append(len(text.search_bm25("river", 5)))
    released.set()
    holder.execute("COMMIT")
    writer.join()
    assert outcome == {"after_release": True}
    assert answers and all(answers)
    assert whole_books(index) == {DRILL_BOOK: True, "book-0.md": True}
