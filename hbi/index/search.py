"""All SQL the search runs against the index: FTS5 lists, term statistics, vectors, hit rows.

One `IndexStore` per index file and process. Each thread gets its own APSW connection (the
lexical and semantic lists run in parallel), opened through `hbi.index.db.connect`. Nothing
here writes to the index.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import apsw

from hbi.index.db import EMBEDDING_DIM, connect
from hbi.search.bm25 import ColumnWeights, CorpusStats

if TYPE_CHECKING:
    import numpy as np

# Sentence vectors held in memory at most (3M rows: 4.6 GB of float32, ~650k chunks of prose).
# A larger library is searched by chunk vectors alone; its sentence vectors stay in the index.
ENV_SENTENCE_BUDGET = "HBI_SENTENCE_VECTOR_BUDGET"
DEFAULT_SENTENCE_BUDGET = 3_000_000

# The FTS5 tables over chunks: words (hbi_fold, porter) and bigrams of unsegmented scripts.
FtsTable = Literal["chunks_fts", "chunks_cjk"]

HIT_COLUMNS = (
    "c.chunk_id, c.book_id, c.ordinal, c.section_id, c.section_path, c.text, c.page_start, "
    "c.page_end, c.page_label_start, c.page_label_end, b.title, b.authors, b.format, "
    "b.ocr_pages"
)


@dataclass(frozen=True)
class Scope:
    """The chunks a search may return: None means no limit on that field."""

    book_ids: tuple[str, ...] | None = None
    section_ids: tuple[str, ...] | None = None

    @property
    def unlimited(self) -> bool:
        return self.book_ids is None and self.section_ids is None

    @property
    def empty(self) -> bool:
        return self.book_ids == () or self.section_ids == ()

    def where(self) -> tuple[str, list]:
        """Return SQL conditions on chunks `c` (joined) and their parameters."""
        clauses, params = [], []
        if self.book_ids is not None:
            clauses.append("c.book_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(self.book_ids))
        if self.section_ids is not None:
            clauses.append("c.section_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(self.section_ids))
        return " AND ".join(clauses), params


def _fts_stats(api: apsw.FTS5ExtensionApi) -> str:
    # An FTS5 auxiliary function: the table's row count and token total, which bm25() uses.
    return f"{api.row_count} {api.column_total_size(-1)}"


class IndexStore:
    """Reads the index for search; one per index file, shared by threads."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._watch_lock = threading.Lock()
        self._watch: apsw.Connection | None = None

    def connection(self) -> apsw.Connection:
        """Return this thread's connection (sqlite-vec loaded, FTS5 helpers registered)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self.path)
            connection.register_fts5_function("hbi_fts_stats", _fts_stats)
            connection.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.hbi_fts_vocab "
                "USING fts5vocab(main, chunks_fts, row)"
            )
            self._local.connection = connection
        return connection

    def data_version(self) -> int:
        """Return a number that changes whenever another connection commits to the index."""
        with self._watch_lock:
            if self._watch is None:
                self._watch = connect(self.path)
            return self._watch.execute("PRAGMA data_version").fetchone()[0]

    # --- lexical -------------------------------------------------------------------------

    def bm25_list(
        self,
        expression: str,
        limit: int,
        weights: ColumnWeights,
        scope: Scope | None = None,
        table: FtsTable = "chunks_fts",
    ) -> list[tuple[int, float]]:
        """Return the `limit` best (chunk_id, BM25 score) for an FTS5 expression, best first.

        Scores are FTS5's bm25() negated (higher is better); ties go to the lower chunk id.
        `table` is the word index or the bigram index of unsegmented scripts (`chunks_cjk`).
        """
        condition, params = (scope or Scope()).where()
        join = f"JOIN chunks c ON c.chunk_id = {table}.rowid " if condition else ""
        sql = (
            f"SELECT {table}.rowid, -bm25({table}, ?, ?, ?) AS score FROM {table} "
            f"{join}WHERE {table} MATCH ? {'AND ' + condition if condition else ''} "
            f"ORDER BY score DESC, {table}.rowid LIMIT ?"
        )
        rows = self.connection().execute(sql, (*weights.as_tuple(), expression, *params, limit))
        return [(int(chunk_id), float(score)) for chunk_id, score in rows]

    def bm25_books(
        self,
        expression: str,
        weights: ColumnWeights,
        scope: Scope | None = None,
        table: FtsTable = "chunks_fts",
    ) -> list[tuple[int, str, float]]:
        """Return every passage matching an FTS5 expression: (chunk_id, book_id, BM25 score).

        Best first, in bm25_list's order: scores negated, ties to the lower chunk id.
        """
        condition, params = (scope or Scope()).where()
        sql = (
            f"SELECT {table}.rowid, c.book_id, -bm25({table}, ?, ?, ?) AS score "
            f"FROM {table} JOIN chunks c ON c.chunk_id = {table}.rowid "
            f"WHERE {table} MATCH ? {'AND ' + condition if condition else ''} "
            f"ORDER BY score DESC, {table}.rowid"
        )
        rows = self.connection().execute(sql, (*weights.as_tuple(), expression, *params))
        return [(int(chunk_id), book_id, float(score)) for chunk_id, book_id, score in rows]

    def phrase_matches(self, words: Sequence[str], chunk_ids: Sequence[int]) -> set[int]:
        """Return which of chunk_ids hold the words as one phrase, in order (FTS5 tokens)."""
        if not words or not chunk_ids:
            return set()
        phrase = '"' + " ".join(w.replace('"', '""') for w in words) + '"'
        marks = ", ".join("?" * len(chunk_ids))
        rows = self.connection().execute(
            f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
            (phrase, *chunk_ids),
        )
        return {int(row[0]) for row in rows}

    def phrase_passages(self, words: Sequence[str], scope: Scope | None = None) -> list[int]:
        """Return every chunk id in scope holding the words as one phrase, in order."""
        if not words:
            return []
        phrase = '"' + " ".join(w.replace('"', '""') for w in words) + '"'
        condition, params = (scope or Scope()).where()
        join = "JOIN chunks c ON c.chunk_id = chunks_fts.rowid " if condition else ""
        rows = self.connection().execute(
            f"SELECT chunks_fts.rowid FROM chunks_fts {join}WHERE chunks_fts MATCH ? "
            f"{'AND ' + condition if condition else ''}",
            (phrase, *params),
        )
        return [int(row[0]) for row in rows]

    def corpus_stats(self, expression: str) -> CorpusStats:
        """Return the FTS5 table's row count and token total (expression must match a row)."""
        row = (
            self.connection()
            .execute(
                "SELECT hbi_fts_stats(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1",
                (expression,),
            )
            .fetchone()
        )
        if row is None:
            return CorpusStats(0, 0)
        rows, tokens = (int(x) for x in row[0].split())
        return CorpusStats(rows, tokens)

    def doc_counts(self, tokens: Iterable[str]) -> dict[str, int]:
        """Return how many rows hold each token (0 for tokens not in the index)."""
        connection = self.connection()
        counts = {}
        for token in tokens:
            row = connection.execute(
                "SELECT doc FROM temp.hbi_fts_vocab WHERE term = ?", (token,)
            ).fetchone()
            counts[token] = int(row[0]) if row else 0
        return counts

    def passage_columns(self, chunk_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
        """Return the three FTS5 columns (text, section_path, book_title) of those chunks."""
        rows = self.connection().execute(
            "SELECT chunk_id, text, section_path, book_title FROM chunks "
            "WHERE chunk_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(chunk_ids)),),
        )
        return {chunk_id: (text, path, title) for chunk_id, text, path, title in rows}

    # --- filters and hits ----------------------------------------------------------------

    def books(self) -> list[tuple[str, list[str], str]]:
        """Return (book_id, authors, format) of every indexed book."""
        rows = self.connection().execute("SELECT book_id, authors, format FROM books")
        return [(book_id, json.loads(authors), fmt) for book_id, authors, fmt in rows]

    def chunk_ids_in(self, scope: Scope) -> np.ndarray:
        """Return the ids of every chunk inside the scope."""
        import numpy as np  # only semantic searches come here; a lexical one need not load it

        condition, params = scope.where()
        rows = self.connection().execute(
            f"SELECT c.chunk_id FROM chunks c WHERE {condition or '1'}", params
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def chunk_books(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return every chunk id (ascending), the number of its book, and the book ids numbered."""
        import numpy as np

        rows = self.connection().execute("SELECT chunk_id, book_id FROM chunks ORDER BY chunk_id")
        numbers: dict[str, int] = {}
        ids, books = [], []
        for chunk_id, book_id in rows:
            ids.append(chunk_id)
            books.append(numbers.setdefault(book_id, len(numbers)))
        return np.array(ids, dtype=np.int64), np.array(books, dtype=np.int64), list(numbers)

    def book_of(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """Return the book id of each of those chunks that still exists."""
        rows = self.connection().execute(
            "SELECT chunk_id, book_id FROM chunks "
            "WHERE chunk_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(chunk_ids)),),
        )
        return dict(rows)

    def hit_rows(self, chunk_ids: Sequence[int]) -> dict[int, dict]:
        """Return each chunk's row with its book's title, authors (decoded) and format."""
        cursor = self.connection().cursor()
        rows = cursor.execute(
            f"SELECT {HIT_COLUMNS} FROM chunks c JOIN books b ON b.book_id = c.book_id "
            "WHERE c.chunk_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(chunk_ids)),),
        )
        names = [name.split(".")[-1] for name in HIT_COLUMNS.split(", ")]
        found = {}
        for row in rows:
            record = dict(zip(names, row, strict=True))
            record["authors"] = json.loads(record["authors"])
            record["ocr"] = _on_ocr_page(record, json.loads(record.pop("ocr_pages")))
            found[record["chunk_id"]] = record
        return found

    def neighbours(self, book_id: str, ordinal: int) -> dict[str, dict | None]:
        """Return the chunks before and after a chunk in reading order (None at the ends)."""
        rows = self.connection().execute(
            "SELECT chunk_id, ordinal, section_id, section_path, text, page_start, page_end, "
            "page_label_start FROM chunks WHERE book_id = ? AND ordinal IN (?, ?)",
            (book_id, ordinal - 1, ordinal + 1),
        )
        found: dict[str, dict | None] = {"previous": None, "next": None}
        for chunk_id, at, section_id, path, text, page_start, page_end, label in rows:
            found["previous" if at < ordinal else "next"] = {
                "chunk_id": chunk_id,
                "section_id": section_id,
                "section_path": path.split(" > ") if path else [],
                "page_start": page_start,
                "page_end": page_end,
                "page_label": label,
                "text": text,
            }
        return found

    # --- vectors -------------------------------------------------------------------------

    def vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return every chunk and sentence vector: chunk ids (int64, a chunk's id on each of its
        rows), an (n, 384) float32 matrix, and which rows are sentence vectors.

        Rows are read into preallocated arrays under one read transaction (a consistent view,
        and no second copy of the blobs). Sentence vectors are left out when there are more of
        them than HBI_SENTENCE_VECTOR_BUDGET.
        """
        import numpy as np

        connection = self.connection()
        budget = int(os.environ.get(ENV_SENTENCE_BUDGET, DEFAULT_SENTENCE_BUDGET))
        connection.execute("BEGIN")
        try:
            chunks = connection.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0]
            sentences = connection.execute("SELECT count(*) FROM sentence_vectors").fetchone()[0]
            queries = ["SELECT chunk_id, embedding FROM chunk_vectors"]
            if sentences <= budget:
                queries.append("SELECT chunk_id, embedding FROM sentence_vectors")
            else:
                sentences = 0
            ids = np.empty(chunks + sentences, dtype=np.int64)
            matrix = np.empty((chunks + sentences, EMBEDDING_DIM), dtype=np.float32)
            row = 0
            for sql in queries:
                for chunk_id, blob in connection.execute(sql):
                    ids[row] = chunk_id
                    matrix[row] = np.frombuffer(blob, dtype=np.float32)
                    row += 1
        finally:
            connection.execute("COMMIT")
        return ids, matrix, np.arange(len(ids)) >= chunks

    def vectors_fingerprint(self) -> str:
        """Return a digest that changes when vectors are added, dropped or re-embedded.

        Sentence vectors are written and deleted only together with their chunk's vector, so
        the chunk vector count and the per-book projection records cover them too.
        """
        connection = self.connection()
        digest = hashlib.sha256()
        count = connection.execute("SELECT count(*) FROM chunk_vectors").fetchone()[0]
        digest.update(f"{count}".encode())
        for row in connection.execute(
            "SELECT book_id, fingerprint, vectors, projected_at FROM projected_books "
            "ORDER BY book_id"
        ):
            digest.update(repr(row).encode())
        return digest.hexdigest()


def _on_ocr_page(chunk: dict, ocr_pages: list[int]) -> bool:
    """Return whether any page the chunk spans was read by OCR."""
    start, end = chunk["page_start"], chunk["page_end"]
    if not ocr_pages or start is None:
        return False
    return any(start <= page <= (end or start) for page in ocr_pages)
