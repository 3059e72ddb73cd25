"""Faults with real servers and real index files: Neo4j stopped in the middle of a ToC-graph
write, MinIO stopped under the sensor, a book run and a projection, the projection killed with
SIGKILL in the middle of a batch, and an index held by a long reader or another writer.

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
from dataclasses import dataclass
from pathlib import Path

import apsw
import dagster as dg
import pytest
import urllib3
from neo4j.exceptions import ServiceUnavailable, TransientError

from hbi.bundle.bucket import library_pointer
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.index.projection import project_library
from hbi.index.writer import ProjectedBook, apply_books
from hbi.stack import LocalStack
from hbi_assets import retries
from hbi_assets.books import book_assets, book_bundle, book_toc_graph
from hbi_assets.partitions import books_partitions
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from hbi_resources.search import SearchResource
from tests.conftest import sensor_tick
from tests.resilience.fault_drills import (
    DRILL_MODEL,
    WhenTrue,
    add_book,
    book_state,
    copy_index,
    drill_bundle,
    graph_write_running,
    inconsistencies,
    integrity_problems,
    kill_projection_in_batch,
    projected,
    publish,
    remove_books,
    retried_steps,
    run_book,
    run_projection,
    running_afterwards,
    step_failures,
    step_retried,
    text_heavy_book,
    toc_heavy_book,
    vectors_not_matching_their_text,
)

DRILL_BOOK = "drill.md"
WORDS = ["alpha", "omega", "gamma", "delta", "sigma", "kappa"]
SMALL_TOC_PARTS = 20  # 41 ToC entries
LARGE_TOC_PARTS = 4000  # 8,001 entries: a graph write of a few seconds
MODELS = [DRILL_MODEL, "drill-model-b"]


def graph_counts(parts: int) -> dict[str, int]:
    """Return the graph counts of a toc_heavy_book with that many parts."""
    entries = 2 * parts + 1
    return {"sections": entries, "next_links": entries - 1, "terms": 0}


def home_state(book_id: str) -> dict:
    """Return the book's state in the index of the session's HBI_HOME."""
    return book_state(connect(default_index_path()), book_id, WORDS)


@pytest.fixture
def drill_key(object_store: ObjectStoreResource) -> Iterator[Callable[[], str]]:
    """Give fresh object keys (each its own book id) for a test's books; afterwards those books
    are removed from the library, the graph, the index and the buckets, so other tests never
    see them."""
    keys: list[str] = []

    def new_key() -> str:
        keys.append(f"drill-{uuid.uuid4().hex[:10]}.md")
        return keys[-1]

    yield new_key
    if keys:
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
def book_outgrowing_its_graph(
    object_store: ObjectStoreResource, graph: GraphResource, drill_key: Callable[[], str]
) -> str:
    """A book whose graph holds its old 41-entry ToC while its library pointer already names
    its new 8,001-entry bundle: the state in which automation runs book_toc_graph after
    book_bundle."""
    book_id = drill_key()
    graph.project_bundle(drill_bundle(toc_heavy_book("Drill", SMALL_TOC_PARTS), book_id))
    publish(object_store, drill_bundle(toc_heavy_book("Drill", LARGE_TOC_PARTS), book_id))
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(books_partitions.name, [book_id])
    return book_id


@pytest.mark.integration
@pytest.mark.usefixtures("one_retry_a_second_later")
def test_a_graph_write_cut_off_by_stopping_neo4j_fails_clearly_and_changes_nothing(
    stack: LocalStack,
    object_store: ObjectStoreResource,
    graph: GraphResource,
    book_outgrowing_its_graph: str,
) -> None:
    book_id = book_outgrowing_its_graph
    pointer = library_pointer(object_store, book_id)
    with (
        running_afterwards(stack.neo4j),
        WhenTrue(graph_write_running(graph), stack.neo4j.stop) as stop,
    ):
        result = run_book(book_id, [book_toc_graph])
    assert stop.done, "Neo4j was not stopped during the write"
    assert not result.success
    [message] = step_failures(result)
    assert message.startswith(f"{book_id}: Neo4j is unavailable: ")
    assert retried_steps(result) == ["book_toc_graph"]
    assert library_pointer(object_store, book_id) == pointer
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


# --- MinIO stopped under the sensor, a book run and a projection ------------------------------


@pytest.mark.integration
def test_a_sensor_tick_while_minio_is_stopped_is_skipped_and_deletes_nothing(
    stack: LocalStack, bucket
) -> None:
    store, state = bucket
    for key in ("a.txt", "b.md"):
        store.put_bytes(store.books_bucket, key, b"Some text.", "text/plain")
    first, _ = sensor_tick(bucket)
    assert len(first.run_requests) == 2
    seen = state.seen()
    with stack.stopped("minio"):
        skipped, _ = sensor_tick(bucket)
    assert isinstance(skipped, dg.SkipReason)
    assert f"listing bucket {store.books_bucket!r} failed, nothing changed" in (
        skipped.skip_message
    )
    assert state.seen() == seen
    again, _ = sensor_tick(bucket)
    assert again.run_requests == []


@pytest.mark.integration
@pytest.mark.usefixtures("one_retry_a_second_later")
def test_a_book_run_while_minio_is_stopped_fails_clearly_and_keeps_the_library_version(
    stack: LocalStack,
    object_store: ObjectStoreResource,
    tmp_path: Path,
    drill_key: Callable[[], str],
) -> None:
    key = drill_key()
    add_book(tmp_path, key, text_heavy_book("Drill", ["alpha"] * 40))
    assert run_book(key, [book_bundle]).success
    index = tmp_path / "index.sqlite"
    assert project_library(object_store, index, book_ids=[key]).applied == [key]
    pointer = library_pointer(object_store, key)
    before = book_state(connect(index), key, WORDS)
    add_book(tmp_path, key, text_heavy_book("Drill", ["omega"] * 60))
    with stack.stopped("minio"):
        result = run_book(key, book_assets)
    assert not result.success
    [message] = step_failures(result)
    assert message.startswith(f"{key}: MinIO is unavailable: ")
    assert retried_steps(result) == ["book_bundle"]
    assert library_pointer(object_store, key) == pointer
    assert project_library(object_store, index, book_ids=[key]).applied == []
    assert book_state(connect(index), key, WORDS) == before


@pytest.mark.integration
def test_a_book_run_retries_until_minio_is_back(
    stack: LocalStack,
    object_store: ObjectStoreResource,
    tmp_path: Path,
    drill_key: Callable[[], str],
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
    assert set(retried_steps(result)) == {"book_bundle"}
    index = tmp_path / "index.sqlite"
    assert project_library(object_store, index, book_ids=[key]).applied == [key]
    state = book_state(connect(index), key, WORDS)
    assert state["fts"]["alpha"] == 30
    assert state["chunk_vectors"][0] == state["chunks"][0]


@pytest.fixture
def library_book_ahead_of_the_index(
    object_store: ObjectStoreResource, drill_key: Callable[[], str]
) -> tuple[str, dict]:
    """A book this home's index holds in its old version (40 "alpha" chapters) while the
    library names its new one (60 "omega" chapters); return its id and its state in the index."""
    book_id = drill_key()
    publish(object_store, drill_bundle(text_heavy_book("Drill", ["alpha"] * 40), book_id))
    assert project_library(object_store, default_index_path(), book_ids=[book_id]).applied
    publish(object_store, drill_bundle(text_heavy_book("Drill", ["omega"] * 60), book_id))
    return book_id, home_state(book_id)


@pytest.mark.integration
@pytest.mark.usefixtures("one_retry_a_second_later")
def test_a_projection_while_minio_is_stopped_fails_clearly_and_keeps_the_index(
    stack: LocalStack, library_book_ahead_of_the_index: tuple[str, dict]
) -> None:
    book_id, before = library_book_ahead_of_the_index
    with stack.stopped("minio"):
        result = run_projection()
    assert not result.success
    [message] = step_failures(result)
    assert message.startswith("search_index: MinIO is unavailable: ")
    assert retried_steps(result) == ["search_index"]
    assert home_state(book_id) == before


@pytest.mark.integration
def test_a_projection_retries_until_minio_is_back(
    stack: LocalStack,
    object_store: ObjectStoreResource,
    library_book_ahead_of_the_index: tuple[str, dict],
) -> None:
    book_id, _ = library_book_ahead_of_the_index
    run_id = str(uuid.uuid4())
    with (
        dg.DagsterInstance.get() as instance,
        stack.stopped("minio") as minio,
        WhenTrue(step_retried(instance, run_id), minio.start) as start,
    ):
        result = run_projection(instance=instance, run_id=run_id)
    assert start.done
    assert result.success, step_failures(result)
    assert set(retried_steps(result)) == {"search_index"}
    state = home_state(book_id)
    assert state["projection"][0] == library_pointer(object_store, book_id)["fingerprint"]
    assert state["fts"] == {**dict.fromkeys(WORDS, 0), "omega": 60}
    assert state["chunks"][0] == 61


@pytest.fixture
def library_ahead_by_many_books(
    object_store: ObjectStoreResource, drill_key: Callable[[], str]
) -> list[str]:
    """Forty small books in the library that this home's index does not hold yet: more than
    two of the projection's batches (hbi.index.projection.DEFAULT_BATCH)."""
    book_ids = [drill_key() for _ in range(40)]
    for book_id in book_ids:
        publish(object_store, drill_bundle(text_heavy_book("Many", ["delta"] * 5), book_id))
    return book_ids


def some_projected(book_ids: list[str]) -> Callable[[], bool]:
    """Return a probe that tells whether this home's index holds any of the books yet."""
    return lambda: bool(set(book_ids) & set(reads.projections(connect(default_index_path()))))


@pytest.mark.integration
def test_a_projection_cut_off_by_stopping_minio_retries_and_completes_once_minio_is_back(
    stack: LocalStack, library_ahead_by_many_books: list[str]
) -> None:
    book_ids = library_ahead_by_many_books
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.get() as instance:
        retried = step_retried(instance, run_id)
        with (
            running_afterwards(stack.minio),
            WhenTrue(some_projected(book_ids), stack.minio.stop) as stop,
            WhenTrue(lambda: stop.done and retried(), stack.minio.start) as start,
        ):
            result = run_projection(instance=instance, run_id=run_id)
    assert stop.done, "MinIO was not stopped during the projection"
    assert result.success, step_failures(result)
    assert start.done and "search_index" in retried_steps(result)
    assert set(book_ids) <= set(reads.projections(connect(default_index_path())))


# --- the projection killed with SIGKILL in the middle of a batch ------------------------------

CHAPTERS = 1000  # per book: a batch of two books is a write transaction of about a second
KILL_BATCH = 2
KILL_TRIALS = 4


@dataclass
class KilledProjection:
    """One projection killed in the middle of its `batch`-th batch (if `hit`), and the index it
    left: each book's state ("before", "after" or "neither"), integrity and consistency."""

    index: Path
    batch: int
    hit: bool
    states: dict[str, str]
    integrity: list[str]
    inconsistencies: dict[str, int]


@dataclass
class ProjectionDrill:
    """A library in its own backups bucket that moved on since an index projected it."""

    store: ObjectStoreResource
    batches: list[list[str]]  # the books of each batch the projection applies, in order
    before: dict[str, dict]  # each book's state in the index before the projection
    after: dict[str, dict]  # and after a projection that was not interrupted
    trials: list[KilledProjection]

    def states_when_killed_in(self, batch: int) -> dict[str, str]:
        """Each book's state after a kill inside that batch: the batches before it are applied
        whole, the killed one and those after it not at all."""
        done = {book_id for books in self.batches[: batch - 1] for book_id in books}
        return {book_id: "after" if book_id in done else "before" for book_id in self.before}

    def state_name(self, connection: apsw.Connection, book_id: str) -> str:
        """Name the book's state in the index: as before the projection, after it, or neither."""
        state = book_state(connection, book_id, WORDS)
        if state == self.before[book_id]:
            return "before"
        return "after" if state == self.after[book_id] else "neither"


def library_versions() -> tuple[list, list]:
    """Return the bundles of the library an index projected, and those published since: a book
    left as it was, a book whose text changed, a book re-embedded by another model, two new
    books."""
    n = CHAPTERS
    old = [
        drill_bundle(text_heavy_book("Bystander", ["kappa"] * n), "bystander.md"),
        drill_bundle(text_heavy_book("Changed", ["alpha"] * n), "changed.md"),
        drill_bundle(text_heavy_book("Embedded", ["gamma"] * n), "re-embedded.md", MODELS[0]),
    ]
    new = [
        drill_bundle(
            text_heavy_book("Changed", ["alpha"] * (n // 2) + ["omega"] * (n // 2)), "changed.md"
        ),
        drill_bundle(text_heavy_book("Embedded", ["gamma"] * n), "re-embedded.md", MODELS[1]),
        drill_bundle(text_heavy_book("New A", ["delta"] * n), "new-a.md"),
        drill_bundle(text_heavy_book("New B", ["sigma"] * n), "new-b.md"),
    ]
    return old, new


def states(index: Path, book_ids: list[str]) -> dict[str, dict]:
    """Return each book's state in the index file."""
    connection = connect(index)
    return {book_id: book_state(connection, book_id, WORDS) for book_id in book_ids}


@pytest.fixture(scope="module")
def projection_drill(
    object_store: ObjectStoreResource, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProjectionDrill]:
    """Project a library into an index, publish new bundles, then SIGKILL a projection of them
    KILL_TRIALS times, each in a fresh copy of the index, inside its first or second batch."""
    folder = tmp_path_factory.mktemp("projection-drill")
    store = object_store.model_copy(update={"backups_bucket": f"drill-{uuid.uuid4().hex[:12]}"})
    store.client().make_bucket(store.backups_bucket)
    old, new = library_versions()
    book_ids = sorted({bundle.book["book_id"] for bundle in old + new})
    for bundle in old:
        publish(store, bundle)
    index = folder / "before.sqlite"
    project_library(store, index)
    for bundle in new:
        publish(store, bundle)
    completed = copy_index(index, folder / "after.sqlite")
    applied = project_library(store, completed, batch_size=KILL_BATCH).applied
    batches = [applied[i : i + KILL_BATCH] for i in range(0, len(applied), KILL_BATCH)]
    timing = copy_index(index, folder / "timing.sqlite")
    started = time.perf_counter()
    apply_books(connect(timing), [projected(b) for b in new if b.book["book_id"] in batches[0]])
    batch_s = time.perf_counter() - started
    drill = ProjectionDrill(
        store, batches, states(index, book_ids), states(completed, book_ids), []
    )
    rng = random.Random(8)
    for trial in range(KILL_TRIALS):
        killed = copy_index(index, folder / f"killed-{trial}.sqlite")
        batch = 1 + trial % len(batches)
        delay = rng.uniform(0.15, 0.6) * batch_s
        hit = kill_projection_in_batch(killed, store.backups_bucket, KILL_BATCH, batch, delay)
        connection = connect(killed)
        drill.trials.append(
            KilledProjection(
                killed,
                batch,
                hit,
                {book_id: drill.state_name(connection, book_id) for book_id in book_ids},
                integrity_problems(connection),
                inconsistencies(connection),
            )
        )
    yield drill
    store.delete_prefix(store.backups_bucket, "")
    store.client().remove_bucket(store.backups_bucket)


@pytest.mark.integration
def test_a_projection_killed_inside_a_batch_leaves_every_book_whole_or_absent(
    projection_drill: ProjectionDrill,
) -> None:
    drill = projection_drill
    assert drill.batches == [["changed.md", "new-a.md"], ["new-b.md", "re-embedded.md"]]
    assert any(trial.hit for trial in drill.trials), "no kill landed inside a write transaction"
    for trial in drill.trials:
        assert trial.integrity == [] and trial.inconsistencies == {}
        assert set(trial.states.values()) <= {"before", "after"}, trial.states
        if trial.hit:
            assert trial.states == drill.states_when_killed_in(trial.batch)


@pytest.mark.integration
def test_search_after_a_killed_projection_finds_each_book_as_the_index_holds_it(
    projection_drill: ProjectionDrill,
) -> None:
    drill = projection_drill
    for trial in drill.trials:
        search = SearchResource(index_path=str(trial.index))
        held = {book_id: getattr(drill, state)[book_id] for book_id, state in trial.states.items()}
        for word in WORDS:
            hits = search.search(word, mode="lexical", k=50).hits
            assert {hit.book_id for hit in hits} == {
                book_id for book_id, state in held.items() if state["fts"][word]
            }, (word, trial.states)


@pytest.mark.integration
def test_the_next_projection_completes_a_killed_one(
    projection_drill: ProjectionDrill, tmp_path: Path
) -> None:
    drill = projection_drill
    for n, trial in enumerate(drill.trials):
        index = copy_index(trial.index, tmp_path / f"resumed-{n}.sqlite")
        report = project_library(drill.store, index, batch_size=KILL_BATCH)
        left = {b for books in drill.batches for b in books if trial.states[b] == "before"}
        assert set(report.applied) == left
        assert states(index, sorted(drill.after)) == drill.after
        connection = connect(index)
        assert inconsistencies(connection) == {}
        assert all(vectors_not_matching_their_text(connection, b) == 0 for b in drill.after)
        assert reads.projections(connection)["re-embedded.md"]["model_id"] == MODELS[1]


# --- an index held by a long reader or another writer -----------------------------------------


@pytest.fixture(scope="module")
def drill_books() -> tuple[ProjectedBook, list[ProjectedBook]]:
    """A 1,001-chunk book and six distinct 201-chunk books, as the projection applies them."""
    big = projected(drill_bundle(text_heavy_book("Drill", ["alpha"] * 1000), DRILL_BOOK))
    small = [
        projected(drill_bundle(text_heavy_book(f"Book {n}", ["delta"] * 200), f"book-{n}.md"))
        for n in range(6)
    ]
    return big, small


def whole_books(index: Path) -> dict[str, bool]:
    """Return, for each book of an index file, whether all of its chunks are there."""
    connection = connect(index)
    return {
        book["book_id"]: book["chunk_count"] == len(reads.chunks(connection, book["book_id"]))
        for book in reads.books(connection)
    }


def test_books_are_applied_while_a_long_read_holds_the_index_and_searches_answer(
    tmp_path: Path, drill_books: tuple[ProjectedBook, list[ProjectedBook]]
) -> None:
    big, small = drill_books
    index = tmp_path / "index.sqlite"
    apply_books(connect(index), [big])
    search = SearchResource(index_path=str(index))
    reader = connect(index)
    reader.execute("BEGIN")
    chunks_seen = reader.execute("SELECT count(*) FROM chunks").fetchone()[0]
    done = threading.Event()
    answers: list[int] = []

    def keep_searching() -> None:
        while not done.is_set():
            answers.append(len(search.search("river", mode="lexical", k=5).hits))

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        for book in small:
            apply_books(connect(index), [book])
    finally:
        done.set()
        searcher.join()
    assert reader.execute("SELECT count(*) FROM chunks").fetchone()[0] == chunks_seen
    reader.execute("COMMIT")
    assert whole_books(index) == dict.fromkeys(
        [DRILL_BOOK, *(f"book-{n}.md" for n in range(6))], True
    )
    assert inconsistencies(connect(index)) == {}
    assert answers and all(answers)


def test_a_writer_waits_out_another_writer_while_readers_keep_answering(
    tmp_path: Path, drill_books: tuple[ProjectedBook, list[ProjectedBook]]
) -> None:
    big, small = drill_books
    index = tmp_path / "index.sqlite"
    apply_books(connect(index), [big])
    search = SearchResource(index_path=str(index))
    writer_connection = connect(index)
    holder = connect(index)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()
    writer_started = threading.Event()
    outcome: dict = {}

    def write() -> None:
        writer_started.set()
        apply_books(writer_connection, [small[0]])
        outcome["after_release"] = released.is_set()

    writer = threading.Thread(target=write)
    writer.start()
    writer_started.wait()
    answers = []
    held_until = time.monotonic() + 2.0
    while time.monotonic() < held_until:
        answers.append(len(search.search("river", mode="lexical", k=5).hits))
    released.set()
    holder.execute("COMMIT")
    writer.join()
    assert outcome == {"after_release": True}
    assert answers and all(answers)
    assert whole_books(index) == {DRILL_BOOK: True, "book-0.md": True}
