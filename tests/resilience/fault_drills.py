"""What the fault drills share: generated books, book runs through Dagster, the state of one book
in an index file, a writer process to kill, and background threads that stop or start a server."""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import apsw
import dagster as dg
import numpy as np
from neo4j.exceptions import Neo4jError, ServiceUnavailable

from hbi.backup_store import BOOKS_PREFIX
from hbi.cli.books import QUIET_RUN_CONFIG, add_books, failure_message
from hbi.index_db import EMBEDDING_DIM
from hbi.pipeline import prepare_book
from hbi.records import BookRows, ChunkVectors
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource

REPO_ROOT = Path(__file__).resolve().parents[2]
# How the ToC-graph write's batches of sections begin (hbi_resources/graph.py).
SECTION_WRITE = "UNWIND $rows AS s CREATE (:Section"


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


def book_rows(data: bytes, book_id: str) -> BookRows:
    """Return the index rows the book_text asset would write for data."""
    prepared = prepare_book(
        data, book_id=book_id, object_key=book_id, etag=None, tokenizer=EmbedderResource().model()
    )
    return prepared.rows


def drill_vectors(rows: BookRows, model_id: str) -> dict[int, ChunkVectors]:
    """Return made-up unit vectors (one chunk vector, two sentence vectors) for every chunk.

    Each is derived from the model id and the chunk's content hash, so a stored vector shows
    which text and which "model" it was made for.
    """
    return {chunk.chunk_id: drill_vector(model_id, chunk.content_hash) for chunk in rows.chunks}


def drill_vector(model_id: str, content_hash: str) -> ChunkVectors:
    """Return the made-up vectors of one chunk text under one model id."""
    seed = int.from_bytes(hashlib.sha256(f"{model_id}\x00{content_hash}".encode()).digest()[:8])
    stacked = np.random.default_rng(seed).standard_normal((3, EMBEDDING_DIM)).astype(np.float32)
    stacked /= np.linalg.norm(stacked, axis=1, keepdims=True)
    return ChunkVectors.from_stacked(stacked)


def _digest(rows: list) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def text_state(connection: apsw.Connection, book_id: str, words: list[str]) -> dict:
    """Return the book's rows in the text index as counts and SHA-256 checksums.

    The FTS count of each word is read through the full-text index, not the chunks table.
    """
    queries = {
        "books": "SELECT title, content_hash, chunk_count, toc_entries FROM books "
        "WHERE book_id = ?",
        "sections": "SELECT section_id, title, path, char_start FROM sections "
        "WHERE book_id = ? ORDER BY ordinal",
        "chunks": "SELECT chunk_id, ordinal, section_id, text, content_hash FROM chunks "
        "WHERE book_id = ? ORDER BY ordinal",
        "terms": "SELECT term_id, term, pages FROM index_terms WHERE book_id = ? ORDER BY term_id",
    }
    state: dict = {}
    for name, sql in queries.items():
        rows = connection.execute(sql, (book_id,)).fetchall()
        state[name] = (len(rows), _digest(rows))
    state["fts"] = {
        word: connection.execute(
            "SELECT count(*) FROM chunks_fts f JOIN chunks c ON c.chunk_id = f.rowid "
            "WHERE chunks_fts MATCH ? AND c.book_id = ?",
            (word, book_id),
        ).fetchone()[0]
        for word in words
    }
    return state


def vector_state(connection: apsw.Connection, book_id: str) -> dict:
    """Return the book's model, vector counts and SHA-256 checksums of its vectors."""
    model = connection.execute(
        "SELECT model_id, vectors FROM book_embeddings WHERE book_id = ?", (book_id,)
    ).fetchall()
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
    return {
        "model": model,
        "chunk_vectors": (len(chunk_vectors), _digest(chunk_vectors)),
        "sentence_vectors": (len(sentence_vectors), _digest(sentence_vectors)),
    }


def vectors_not_matching_their_text(connection: apsw.Connection, book_id: str) -> int:
    """Return how many of the book's vectors were not made from their chunk's current text by
    the book's model (made-up vectors, see drill_vector), counting cache entries too."""
    [(model_id,)] = connection.execute(
        "SELECT model_id FROM book_embeddings WHERE book_id = ?", (book_id,)
    ).fetchall()
    rows = connection.execute(
        "SELECT c.content_hash, v.embedding, e.embedding FROM chunks c "
        "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id "
        "LEFT JOIN embedding_cache e ON e.model_id = ? AND e.content_hash = c.content_hash "
        "WHERE c.book_id = ?",
        (model_id, book_id),
    ).fetchall()
    wrong = 0
    for content_hash, chunk_blob, cache_blob in rows:
        expected = drill_vector(model_id, content_hash)
        wrong += chunk_blob != expected.chunk.tobytes()
        wrong += cache_blob is not None and cache_blob != expected.stacked().tobytes()
    return wrong


def assert_index_intact(connection: apsw.Connection) -> None:
    """Fail unless SQLite's integrity check, FTS5's own check and the vector links all pass."""
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Raises if the full-text index differs in any way from the chunks it indexes.
    connection.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    orphans = connection.execute(
        "SELECT (SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN "
        "(SELECT chunk_id FROM chunks)) + (SELECT count(*) FROM sentence_vectors WHERE "
        "chunk_id NOT IN (SELECT chunk_id FROM chunk_vectors))"
    ).fetchone()[0]
    assert orphans == 0


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


def kill_while_writing(kind: str, index: Path, versions: Path, delay: float) -> bool:
    """Run the index writer for delay seconds, then SIGKILL it; return whether it was inside a
    write transaction then.

    The writer is frozen (SIGSTOP) before the lock is probed, so the answer describes the very
    moment it is killed.
    """
    command = [
        sys.executable,
        "-m",
        "tests.resilience.index_writer",
        kind,
        str(index),
        str(versions),
    ]
    writer = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGSTOP)
        in_transaction = holds_write_lock(index)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    return in_transaction


def write_versions(path: Path, versions: list) -> Path:
    """Pickle the versions the index writer cycles through; return the file."""
    path.write_bytes(pickle.dumps(versions))
    return path


def add_book(folder: Path, key: str, data: bytes) -> str:
    """Upload data as object `key` to the books bucket, register its partition; return its id."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    path.write_bytes(data)
    [added] = add_books((path,))
    return added["book_id"]


def remove_books(book_ids: list[str], object_store: ObjectStoreResource) -> None:
    """Remove books (whose object keys are their ids) the way a deleted object does:
    remove_books_job forgets them everywhere; then their objects and backup bundles go too."""
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
