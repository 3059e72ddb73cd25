"""What the fault drills share: generated books and their bundles, book runs through Dagster, the
state of one book in an index file, a projection process to kill, and background threads that
stop or start a server."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path

import apsw
import dagster as dg
import numpy as np
from neo4j.exceptions import Neo4jError, ServiceUnavailable

from hbi.bundle.bucket import BOOKS_PREFIX, publish_bundle
from hbi.bundle.build import bundle_rows, prepare_book
from hbi.bundle.files import BookBundle, bundle_fingerprint
from hbi.bundle.rows import BookRows, ChunkVectors
from hbi.cli.books import QUIET_RUN_CONFIG, add_books, failure_message
from hbi.embedding.tokenizer import MiniLMTokenizer
from hbi.index import reads
from hbi.index.db import EMBEDDING_DIM
from hbi.index.writer import ProjectedBook
from hbi.storage.object_store import ObjectStoreClient
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource

REPO_ROOT = Path(__file__).resolve().parents[2]
# How the ToC-graph write's batches of sections begin (hbi/graph/store.py).
SECTION_WRITE = "UNWIND $rows AS s CREATE (:Section"
DRILL_MODEL = "drill-model-a"


# --- generated books and their bundles --------------------------------------------------------


def toc_heavy_book(title: str, parts: int) -> bytes:
    """Return a Markdown book of `parts` chapters with a subsection each: 2 * parts + 1 entries."""
    chapters = "".join(f"## Part {i}\n\n### Detail {i}\n\n" for i in range(parts))
    return f"# {title}\n\n{chapters}".encode()


def text_heavy_book(title: str, words: list[str]) -> bytes:
    """Return a Markdown book with one chapter per word, each a paragraph that names its word."""
    chapters = [
        f"## Chapter {i}\n\n"
        + " ".join(
            f"The {word} river {i} runs past stone {j} and meadow {i + j}." for j in range(6)
        )
        for i, word in enumerate(words)
    ]
    return (f"# {title}\n\n" + "\n\n".join(chapters) + "\n").encode()


@cache
def _tokenizer() -> MiniLMTokenizer:
    return MiniLMTokenizer.from_package()


def book_rows(data: bytes, book_id: str) -> BookRows:
    """Return the rows the book_bundle asset makes of data (extraction, chunking, ToC, terms)."""
    prepared = prepare_book(
        data, book_id=book_id, object_key=book_id, etag=None, tokenizer=_tokenizer()
    )
    return prepared.rows


def drill_vector(model_id: str, content_hash: str) -> ChunkVectors:
    """Return made-up unit vectors (one chunk vector, two sentence vectors) of one chunk text.

    They are derived from the model id and the text's content hash, so a stored vector shows
    which text and which "model" it was made for.
    """
    seed = int.from_bytes(hashlib.sha256(f"{model_id}\x00{content_hash}".encode()).digest()[:8])
    stacked = np.random.default_rng(seed).standard_normal((3, EMBEDDING_DIM)).astype(np.float32)
    stacked /= np.linalg.norm(stacked, axis=1, keepdims=True)
    return ChunkVectors.from_stacked(stacked)


def _no_model(texts: list[str]) -> list[ChunkVectors]:
    raise AssertionError("a drill bundle's vectors are all made up: nothing may be embedded")


def drill_bundle(data: bytes, book_id: str, model_id: str = DRILL_MODEL) -> BookBundle:
    """Return the bundle the book run makes of data, with drill vectors instead of MiniLM's."""
    rows = book_rows(data, book_id)
    known = {c.content_hash: drill_vector(model_id, c.content_hash) for c in rows.chunks}
    bundle, _ = bundle_rows(rows, _no_model, model_id, known)
    return bundle


def projected(bundle: BookBundle) -> ProjectedBook:
    """Return the bundle as the projection hands it to the index writer."""
    fingerprint = bundle_fingerprint(bundle)
    return ProjectedBook(bundle, fingerprint, f"etag-{fingerprint[:8]}")


def publish(store: ObjectStoreClient, bundle: BookBundle) -> str:
    """Store the bundle and point the library at it, as a book run does; return its fingerprint."""
    fingerprint = bundle_fingerprint(bundle)
    book_id = bundle.book["book_id"]
    publish_bundle(store, bundle, fingerprint, object_key=book_id, etag=f"drill-{fingerprint[:8]}")
    return fingerprint


# --- the state of a book in an index ----------------------------------------------------------


def _digest(rows: object) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def book_state(connection: apsw.Connection, book_id: str, words: list[str]) -> dict:
    """Return everything the index holds of the book, as counts and SHA-256 checksums.

    Rows are read through hbi.index.reads; the FTS count of each word through the full-text
    index; the vectors as stored. A book that is absent gives zero counts and no row.
    """
    projection = reads.projections(connection).get(book_id)
    state: dict = {
        "book": _digest(reads.book(connection, book_id)),
        "projection": None
        if projection is None
        else (projection["fingerprint"], projection["model_id"], projection["vectors"]),
    }
    for name, rows in (
        ("sections", reads.sections(connection, book_id)),
        ("chunks", reads.chunks(connection, book_id)),
        ("terms", reads.terms(connection, book_id)),
    ):
        state[name] = (len(rows), _digest(rows))
    state["fts"] = {
        word: connection.execute(
            "SELECT count(*) FROM chunks_fts f JOIN chunks c ON c.chunk_id = f.rowid "
            "WHERE chunks_fts MATCH ? AND c.book_id = ?",
            (word, book_id),
        ).fetchone()[0]
        for word in words
    }
    chunk_vectors = connection.execute(
        "SELECT c.chunk_id, v.embedding FROM chunks c JOIN chunk_vectors v "
        "ON v.chunk_id = c.chunk_id WHERE c.book_id = ? ORDER BY c.ordinal",
        (book_id,),
    ).fetchall()
    sentence_vectors = connection.execute(
        "SELECT s.chunk_id, s.ordinal, s.embedding FROM chunks c JOIN sentence_vectors s "
        "ON s.chunk_id = c.chunk_id WHERE c.book_id = ? ORDER BY s.chunk_id, s.ordinal",
        (book_id,),
    ).fetchall()
    state["chunk_vectors"] = (len(chunk_vectors), _digest(chunk_vectors))
    state["sentence_vectors"] = (len(sentence_vectors), _digest(sentence_vectors))
    return state


def vectors_not_matching_their_text(connection: apsw.Connection, book_id: str) -> int:
    """Return how many of the book's chunk vectors were not made from their chunk's current text
    by the model its projection names (drill vectors, see drill_vector)."""
    model_id = reads.projections(connection)[book_id]["model_id"]
    rows = connection.execute(
        "SELECT c.content_hash, v.embedding FROM chunks c "
        "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id WHERE c.book_id = ?",
        (book_id,),
    ).fetchall()
    return sum(blob != drill_vector(model_id, digest).chunk.tobytes() for digest, blob in rows)


def inconsistencies(connection: apsw.Connection) -> dict[str, int]:
    """Return the consistency figures of the index that are off (none in a whole index)."""
    figures = reads.consistency(connection)
    off = {
        "fts_rows - chunks": figures["fts_rows"] - figures["chunks"],
        "books - projected_books": figures["books"] - figures["projected_books"],
        **{
            name: figures[name]
            for name in (
                "books_without_projection",
                "chunks_without_vector",
                "orphan_vectors",
                "orphan_sentence_vectors",
            )
        },
    }
    return {name: value for name, value in off.items() if value}


def integrity_problems(connection: apsw.Connection) -> list[str]:
    """Return what SQLite's integrity check and FTS5's own check find wrong (nothing if whole)."""
    problems = [row[0] for row in connection.execute("PRAGMA integrity_check") if row[0] != "ok"]
    try:
        # Raises if the full-text index differs in any way from the chunks it indexes.
        connection.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    except apsw.Error as exc:
        problems.append(f"FTS5: {exc}")
    return problems


def copy_index(source: Path, target: Path) -> Path:
    """Copy an index file (as of its last commit) with SQLite's backup API; return target."""
    target.unlink(missing_ok=True)
    origin, destination = apsw.Connection(str(source)), apsw.Connection(str(target))
    with destination.backup("main", origin, "main") as backup:
        backup.step(-1)
    destination.close()
    origin.close()
    return target


# --- a projection killed with SIGKILL ---------------------------------------------------------


def holds_write_lock(index: Path) -> bool:
    """Return whether some connection holds the index's write lock at this moment."""
    probe = apsw.Connection(str(index))
    try:
        probe.execute("BEGIN IMMEDIATE")
    except apsw.BusyError:
        return True
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()


def kill_projection_in_batch(
    index: Path, backups_bucket: str, batch_size: int, batch: int, delay: float
) -> bool:
    """Run `project_library` in a child process, SIGKILL it `delay` seconds after it starts
    applying its `batch`-th batch of bundles; return whether it was inside that write
    transaction then.

    The child is frozen (SIGSTOP) before the lock is probed, so the answer describes the very
    moment it is killed. A child that finishes first is not killed (the answer is False).
    """
    command = [
        sys.executable,
        "-m",
        "tests.resilience.index_writer",
        str(index),
        backups_bucket,
        str(batch_size),
    ]
    writer = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(batch):
            if not writer.stdout.readline().startswith("applying "):
                return False
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGSTOP)
        in_transaction = holds_write_lock(index)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    return in_transaction


# --- book runs through Dagster ----------------------------------------------------------------


def add_book(folder: Path, key: str, data: bytes) -> str:
    """Upload data as object `key` to the books bucket, register its partition; return its id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    path.write_bytes(data)
    [added] = add_books((path,))
    return added["book_id"]


def remove_books(book_ids: list[str], object_store: ObjectStoreResource) -> None:
    """Remove books (whose object keys are their ids) the way a deleted object does:
    remove_books_job forgets them everywhere; then their objects and bundles go too."""
    from hbi_assets.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("remove_books_job").execute_in_process(
            run_config={"ops": {"remove_books": {"config": {"book_ids": book_ids}}}},
            instance=instance,
        )
    assert result.success
    for book_id in book_ids:
        object_store.client().remove_object(object_store.books_bucket, book_id)
        object_store.delete_prefix(object_store.backups_bucket, f"{BOOKS_PREFIX}{book_id}/")


def run_book(
    book_id: str,
    assets: list[dg.AssetsDefinition],
    *,
    instance: dg.DagsterInstance | None = None,
    run_id: str | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize the given assets of one book through the ingest job, as `hbi materialize`."""
    from hbi_assets.books import OBJECT_KEY_TAG
    from hbi_assets.definitions import defs

    with dg.DagsterInstance.get() if instance is None else nullcontext(instance) as running:
        return defs.resolve_job_def("ingest_book").execute_in_process(
            partition_key=book_id,
            instance=running,
            run_config=QUIET_RUN_CONFIG,
            asset_selection=[asset.key for asset in assets],
            tags={OBJECT_KEY_TAG: book_id},
            raise_on_error=False,
            run_id=run_id or str(uuid.uuid4()),
        )


def run_projection(
    *, instance: dg.DagsterInstance | None = None, run_id: str | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize the search_index asset (the projection of the library into this home's
    index) through the refresh_index job, as automation and `hbi sync` do."""
    from hbi_assets.definitions import defs
    from hbi_assets.index import search_index

    with dg.DagsterInstance.get() if instance is None else nullcontext(instance) as running:
        return defs.resolve_job_def("refresh_index").execute_in_process(
            instance=running,
            run_config=QUIET_RUN_CONFIG,
            asset_selection=[search_index.key],
            raise_on_error=False,
            run_id=run_id or str(uuid.uuid4()),
        )


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Return each failed step's message, as `hbi materialize` prints it."""
    return [failure_message(event) for event in result.all_events if event.is_step_failure]


def retried_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    """Return the steps that asked to be retried, once per retry."""
    return [
        event.step_key
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]


def step_retried(instance: dg.DagsterInstance, run_id: str) -> Callable[[], bool]:
    """Return a probe that tells whether a step of the run has asked to be retried."""
    return lambda: bool(instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY))


# --- servers stopped and started by background threads ----------------------------------------


def graph_write_running(graph: GraphResource) -> Callable[[], bool]:
    """Return a probe that tells whether Neo4j is running a ToC-graph write of sections."""

    def probe() -> bool:
        try:
            with graph.driver() as driver:
                records, _, _ = driver.execute_query(
                    "SHOW TRANSACTIONS YIELD currentQuery "
                    "WHERE currentQuery STARTS WITH $write RETURN count(*) AS running",
                    write=SECTION_WRITE,
                )
        except (ServiceUnavailable, Neo4jError):
            return False
        return records[0]["running"] > 0

    return probe


class WhenTrue:
    """Runs an action in a background thread as soon as a condition holds.

    Leaving the block cancels the action if its condition never held, waits for it if it is
    running, and re-raises its error. `done` tells whether it ran.
    """

    def __init__(self, condition: Callable[[], bool], action: Callable[[], object]):
        self.condition = condition
        self.action = action
        self.done = False
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self._cancelled.is_set():
                if self.condition():
                    self.action()
                    self.done = True
                    return
                self._cancelled.wait(0.05)
        except BaseException as exc:  # handed to the test thread on exit
            self._error = exc

    def __enter__(self) -> WhenTrue:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cancelled.set()
        self._thread.join()
        if self._error is not None:
            raise self._error


@contextmanager
def running_afterwards(server) -> Iterator[None]:
    """Start the server again after the block (waiting until it answers), however it ends."""
    try:
        yield
    finally:
        server.start()
