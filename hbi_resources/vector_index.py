"""sqlite-vec: a 384-d embedding per chunk (vec0, cosine) and per sentence of a chunk, and a
cache of evicted ones keyed by model + text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import apsw
import dagster as dg
import numpy as np
from pydantic import Field

from hbi.index_db import (
    EMBEDDING_DIM,
    connect,
    default_index_path,
    delete_book_vectors,
    delete_vectors,
    stacked_vectors,
    write_transaction,
)
from hbi.records import ChunkVectors


@dataclass(frozen=True)
class PendingChunk:
    """A chunk that has no vector yet."""

    chunk_id: int
    text: str
    content_hash: str


class VectorIndexResource(dg.ConfigurableResource):
    """Owns the SQL of the vector index: chunk and sentence vectors, the embedding cache, and
    per-book status.

    The model id stored with a book's vectors and with cache entries names the weights and the
    sentence rules (MiniLMEmbedder.model_id). A book embedded before sentence vectors existed
    therefore carries another model id, so all of its chunks are pending again and none of the
    old cache entries (chunk vectors only) is taken for a current one.
    """

    path: str | None = Field(
        default=None, description="Index file; default HBI_INDEX_PATH or HBI_HOME/index/hbi.sqlite"
    )

    def connect(self) -> apsw.Connection:
        return connect(self.path or default_index_path())

    def pending_chunks(self, book_id: str, model_id: str) -> list[PendingChunk]:
        """Return the book's chunks that need a vector from model_id, in reading order.

        If the book's vectors came from another model, every chunk is pending.
        """
        connection = self.connect()
        row = connection.execute(
            "SELECT model_id FROM book_embeddings WHERE book_id = ?", (book_id,)
        ).fetchone()
        everything = row is not None and row[0] != model_id
        sql = "SELECT c.chunk_id, c.text, c.content_hash FROM chunks c "
        if not everything:
            sql += "LEFT JOIN chunk_vectors v ON v.chunk_id = c.chunk_id "
        sql += "WHERE c.book_id = ? "
        if not everything:
            sql += "AND v.chunk_id IS NULL "
        sql += "ORDER BY c.ordinal"
        return [PendingChunk(*r) for r in connection.execute(sql, (book_id,))]

    def cached(self, model_id: str, content_hashes: list[str]) -> dict[str, ChunkVectors]:
        """Return vectors this model already made for those texts (by content hash).

        They come from any chunk holding the same text (in any book) or, for text no chunk
        holds any more, from the embedding cache of evicted vectors.
        """
        connection = self.connect()
        found: dict[str, ChunkVectors] = {}
        for start in range(0, len(content_hashes), 500):
            batch = json.dumps(content_hashes[start : start + 500])
            live = dict(
                connection.execute(
                    "SELECT c.content_hash, min(c.chunk_id) FROM chunks c "
                    "JOIN book_embeddings e ON e.book_id = c.book_id AND e.model_id = ? "
                    "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id "
                    "WHERE c.content_hash IN (SELECT value FROM json_each(?)) "
                    "GROUP BY c.content_hash",
                    (model_id, batch),
                )
            )
            found.update(self._live_vectors(connection, live))
            for digest, blob in connection.execute(
                "SELECT content_hash, embedding FROM embedding_cache "
                "WHERE model_id = ? AND content_hash IN (SELECT value FROM json_each(?))",
                (model_id, batch),
            ):
                if digest not in found:
                    found[digest] = _from_blob(blob)
        return found

    @staticmethod
    def _live_vectors(
        connection: apsw.Connection, chunk_of: Mapping[str, int]
    ) -> dict[str, ChunkVectors]:
        """Return the vectors of those chunks, by the content hash each was found for."""
        stacked = stacked_vectors(connection, list(chunk_of.values()))
        return {digest: _from_blob(stacked[chunk_id]) for digest, chunk_id in chunk_of.items()}

    def write_vectors(
        self, book_id: str, model_id: str, vectors: Mapping[int, ChunkVectors]
    ) -> int:
        """Store the book's new chunk and sentence vectors in one transaction; return its chunk
        vector total.

        Vectors of another model are dropped first, so a book never mixes two models. Cache
        entries for the texts written are deleted: a live vector is never also a cache entry.
        """
        connection = self.connect()
        with write_transaction(connection):
            row = connection.execute(
                "SELECT model_id FROM book_embeddings WHERE book_id = ?", (book_id,)
            ).fetchone()
            if row is not None and row[0] != model_id:
                delete_book_vectors(connection, book_id)
            delete_vectors(connection, vectors)
            connection.executemany(
                "INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (?, ?)",
                [(cid, _blob(vec.chunk)) for cid, vec in vectors.items()],
            )
            connection.executemany(
                "INSERT INTO sentence_vectors (chunk_id, ordinal, embedding) VALUES (?, ?, ?)",
                [
                    (cid, ordinal, _blob(sentence))
                    for cid, vec in vectors.items()
                    for ordinal, sentence in enumerate(vec.sentences)
                ],
            )
            connection.execute(
                "DELETE FROM embedding_cache WHERE model_id = ? AND content_hash IN "
                "(SELECT content_hash FROM chunks WHERE chunk_id IN "
                "(SELECT value FROM json_each(?)))",
                (model_id, json.dumps(list(vectors))),
            )
            total = self._vector_count(connection, book_id)
            connection.execute(
                "INSERT OR REPLACE INTO book_embeddings (book_id, model_id, vectors, embedded_at) "
                "VALUES (?, ?, ?, ?)",
                (book_id, model_id, total, datetime.now(UTC).isoformat(timespec="seconds")),
            )
        return total

    @staticmethod
    def _vector_count(connection: apsw.Connection, book_id: str) -> int:
        return connection.execute(
            "SELECT count(*) FROM chunks c JOIN chunk_vectors v ON v.chunk_id = c.chunk_id "
            "WHERE c.book_id = ?",
            (book_id,),
        ).fetchone()[0]

    def vector_count(self, book_id: str) -> int:
        """Return how many of the book's chunks have a vector."""
        return self._vector_count(self.connect(), book_id)

    def vectors(self, book_id: str) -> tuple[list[int], np.ndarray]:
        """Return the book's chunk ids in reading order and their vectors as an (n, 384) array."""
        rows = (
            self.connect()
            .execute(
                "SELECT c.chunk_id, v.embedding FROM chunks c "
                "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id "
                "WHERE c.book_id = ? ORDER BY c.ordinal",
                (book_id,),
            )
            .fetchall()
        )
        if not rows:
            return [], np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], np.float32) for r in rows])

    def sentence_vectors(self, book_id: str) -> dict[int, np.ndarray]:
        """Return the book's sentence vectors: chunk id -> (sentences, 384) array, in order.

        Chunks without sentence vectors (one sentence, or embedded before they existed) are
        left out.
        """
        found: dict[int, list[np.ndarray]] = {}
        for chunk_id, blob in self.connect().execute(
            "SELECT s.chunk_id, s.embedding FROM chunks c "
            "JOIN sentence_vectors s ON s.chunk_id = c.chunk_id "
            "WHERE c.book_id = ? ORDER BY s.chunk_id, s.ordinal",
            (book_id,),
        ):
            found.setdefault(chunk_id, []).append(np.frombuffer(blob, np.float32))
        return {chunk_id: np.stack(rows) for chunk_id, rows in found.items()}

    def sentence_vector_count(self, book_id: str) -> int:
        """Return how many sentence vectors the book's chunks have."""
        return (
            self.connect()
            .execute(
                "SELECT count(*) FROM chunks c JOIN sentence_vectors s ON s.chunk_id = c.chunk_id "
                "WHERE c.book_id = ?",
                (book_id,),
            )
            .fetchone()[0]
        )

    def vector_counts(self) -> dict[str, int]:
        """Return, per book, how many of its chunks have a vector (books with none left out)."""
        return dict(
            self.connect().execute(
                "SELECT c.book_id, count(*) FROM chunks c "
                "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id GROUP BY c.book_id"
            )
        )

    def embeddings(self) -> dict[str, tuple[str, str]]:
        """Return each embedded book's model and when its vectors were last written."""
        rows = self.connect().execute("SELECT book_id, model_id, embedded_at FROM book_embeddings")
        return {book_id: (model_id, at) for book_id, model_id, at in rows}

    def model_of(self, book_id: str) -> str | None:
        """Return the model that embedded the book, or None if it has not been embedded."""
        row = (
            self.connect()
            .execute("SELECT model_id FROM book_embeddings WHERE book_id = ?", (book_id,))
            .fetchone()
        )
        return row[0] if row else None


def _from_blob(blob: bytes) -> ChunkVectors:
    """Return the vectors a stacked BLOB (chunk vector, then sentence vectors) holds."""
    return ChunkVectors.from_stacked(
        np.frombuffer(blob, dtype=np.float32).reshape(-1, EMBEDDING_DIM)
    )


def _blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()
