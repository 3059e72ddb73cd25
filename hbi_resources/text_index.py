"""SQLite FTS5: the books table, ToC sections and chunks of every book, searchable with BM25."""

from __future__ import annotations

import json
from dataclasses import dataclass

import apsw
import dagster as dg
from pydantic import Field

from hbi.fts_query import match_expression
from hbi.index_db import (
    connect,
    default_index_path,
    evict_vectors,
    write_transaction,
)
from hbi.records import BookRows, json_list

BOOK_COLUMNS = (
    "book_id, title, authors, language, publisher, date, identifiers, description, format, "
    "page_count, object_key, etag, content_hash, size_bytes, toc_derived, toc_entries, "
    "toc_depth, chunk_count, token_count, index_terms, warnings, indexed_at"
)
CHUNK_COLUMNS = (
    "chunk_id, book_id, ordinal, section_id, section_path, book_title, text, char_start, "
    "char_end, page_start, page_end, page_label_start, page_label_end, token_count, "
    "content_hash, is_matter"
)
SECTION_COLUMNS = (
    "section_id, book_id, ordinal, level, title, parent_id, path, page, page_label, "
    "char_start, char_end, is_matter"
)
JSON_BOOK_FIELDS = ("authors", "identifiers", "warnings")


@dataclass(frozen=True)
class ReplaceStats:
    """What replacing a book's rows did: rows written, removed, and vectors kept valid."""

    chunks_written: int
    chunks_removed: int
    vectors_kept: int
    vectors_dropped: int


def _dict_row(cursor: apsw.Cursor, row: tuple) -> dict:
    return dict(zip((d[0] for d in cursor.get_description()), row, strict=True))


def _query_dicts(connection: apsw.Connection, sql: str, params: tuple = ()) -> list[dict]:
    """Return the rows of a query as dicts (the column names are read while rows stream)."""
    cursor = connection.cursor()
    cursor.row_trace = _dict_row
    return list(cursor.execute(sql, params))


class TextIndexResource(dg.ConfigurableResource):
    """Owns the SQL of the text index: books, sections, chunks and their FTS5 table."""

    path: str | None = Field(
        default=None, description="Index file; default HBI_INDEX_PATH or HBI_HOME/index/hbi.sqlite"
    )

    def file_path(self) -> str:
        """Return the index file this resource writes."""
        return self.path or default_index_path()

    def connect(self) -> apsw.Connection:
        """Return a connection to the index (schema created, sqlite-vec loaded)."""
        return connect(self.path or default_index_path())

    def replace_book(self, rows: BookRows, source_etag: str | None = None) -> ReplaceStats:
        """Replace everything indexed for the book with rows, in one transaction.

        A chunk whose id and content hash are unchanged keeps its vector and sentence vectors;
        every other old vector of the book moves to the embedding cache with its chunk's text
        hash, so no vector ever describes other text and unchanged text is never embedded again.
        """
        book_id = rows.book.book_id
        connection = self.connect()
        with write_transaction(connection):
            old = {
                chunk_id: content_hash
                for chunk_id, content_hash in connection.execute(
                    "SELECT chunk_id, content_hash FROM chunks WHERE book_id = ?", (book_id,)
                )
            }
            new = {c.chunk_id: c.content_hash for c in rows.chunks}
            stale = [cid for cid, digest in old.items() if new.get(cid) != digest]
            kept = len(old) - len(stale)
            evict_vectors(connection, stale)
            self._delete_book_rows(connection, book_id)
            book = rows.book
            values = [
                json_list(getattr(book, name)) if name in JSON_BOOK_FIELDS else getattr(book, name)
                for name in BOOK_COLUMNS.split(", ")
            ]
            connection.execute(
                f"INSERT INTO books ({BOOK_COLUMNS}) VALUES ({', '.join('?' * len(values))})",
                values,
            )
            connection.executemany(
                f"INSERT INTO sections ({SECTION_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                [
                    (
                        s.section_id,
                        s.book_id,
                        s.ordinal,
                        s.level,
                        s.title,
                        s.parent_id,
                        json_list(s.path),
                        s.page,
                        s.page_label,
                        s.char_start,
                        s.char_end,
                        s.is_matter,
                    )
                    for s in rows.sections
                ],
            )
            chunk_values = [
                (
                    c.chunk_id,
                    c.book_id,
                    c.ordinal,
                    c.section_id,
                    c.section_path,
                    c.book_title,
                    c.text,
                    c.char_start,
                    c.char_end,
                    c.page_start,
                    c.page_end,
                    c.page_label_start,
                    c.page_label_end,
                    c.token_count,
                    c.content_hash,
                    c.is_matter,
                )
                for c in rows.chunks
            ]
            connection.executemany(
                f"INSERT INTO chunks ({CHUNK_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                chunk_values,
            )
            connection.executemany(
                "INSERT INTO chunks_fts(rowid, text, section_path, book_title) VALUES (?, ?, ?, ?)",
                [(c.chunk_id, c.text, c.section_path, c.book_title) for c in rows.chunks],
            )
            connection.executemany(
                "INSERT INTO index_terms (term_id, book_id, term, parents, pages, section_ids) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        t.term_id,
                        t.book_id,
                        t.term,
                        json_list(t.parents),
                        json_list(t.pages),
                        json_list(t.section_ids),
                    )
                    for t in rows.terms
                ],
            )
            self._record_source(connection, book_id, book.object_key, source_etag or book.etag)
        return ReplaceStats(len(rows.chunks), len(set(old) - set(new)), kept, len(stale))

    @staticmethod
    def _delete_book_rows(connection: apsw.Connection, book_id: str) -> None:
        # External-content FTS5 rows are removed with the 'delete' command and the old values.
        connection.execute(
            "INSERT INTO chunks_fts(chunks_fts, rowid, text, section_path, book_title) "
            "SELECT 'delete', chunk_id, text, section_path, book_title FROM chunks "
            "WHERE book_id = ?",
            (book_id,),
        )
        for table in ("index_terms", "chunks", "sections", "books"):
            connection.execute(f"DELETE FROM {table} WHERE book_id = ?", (book_id,))

    @staticmethod
    def _record_source(
        connection: apsw.Connection, book_id: str, object_key: str, etag: str | None
    ) -> None:
        connection.execute(
            "INSERT INTO book_sources (book_id, object_key, etag) VALUES (?, ?, ?) "
            "ON CONFLICT(book_id) DO UPDATE SET object_key = excluded.object_key, "
            "etag = excluded.etag",
            (book_id, object_key, etag),
        )

    def register_source(self, book_id: str, object_key: str, etag: str | None) -> None:
        """Remember which object a book id comes from (written when a partition is added)."""
        self.register_sources([(book_id, object_key, etag)])

    def register_sources(self, sources: list[tuple[str, str, str | None]]) -> None:
        """Remember many (book id, object key, ETag) triples in one transaction."""
        connection = self.connect()
        with write_transaction(connection):
            for book_id, object_key, etag in sources:
                self._record_source(connection, book_id, object_key, etag)

    def source_key(self, book_id: str) -> str | None:
        """Return the object key a book id was registered with, if any."""
        row = (
            self.connect()
            .execute("SELECT object_key FROM book_sources WHERE book_id = ?", (book_id,))
            .fetchone()
        )
        return row[0] if row else None

    def delete_book(self, book_id: str) -> bool:
        """Remove the book's rows, FTS entries and vectors; return whether it was indexed."""
        connection = self.connect()
        with write_transaction(connection):
            existed = connection.execute(
                "SELECT 1 FROM books WHERE book_id = ?", (book_id,)
            ).fetchone()
            evict_vectors(
                connection,
                [
                    chunk_id
                    for (chunk_id,) in connection.execute(
                        "SELECT chunk_id FROM chunks WHERE book_id = ?", (book_id,)
                    )
                ],
            )
            self._delete_book_rows(connection, book_id)
            connection.execute("DELETE FROM book_embeddings WHERE book_id = ?", (book_id,))
            connection.execute("DELETE FROM book_sources WHERE book_id = ?", (book_id,))
        return existed is not None

    def book(self, book_id: str) -> dict | None:
        """Return the book's row (JSON fields decoded), or None if it is not indexed."""
        rows = _query_dicts(
            self.connect(), f"SELECT {BOOK_COLUMNS} FROM books WHERE book_id = ?", (book_id,)
        )
        return _decode_book(rows[0]) if rows else None

    def books(self) -> list[dict]:
        """Return every indexed book's row, ordered by book id."""
        rows = _query_dicts(self.connect(), f"SELECT {BOOK_COLUMNS} FROM books ORDER BY book_id")
        return [_decode_book(row) for row in rows]

    def sections(self, book_id: str) -> list[dict]:
        """Return the book's ToC sections in reading order."""
        rows = _query_dicts(
            self.connect(),
            f"SELECT {SECTION_COLUMNS} FROM sections WHERE book_id = ? ORDER BY ordinal",
            (book_id,),
        )
        for row in rows:
            row["path"] = json.loads(row["path"])
            row["is_matter"] = bool(row["is_matter"])
        return rows

    def chunks(self, book_id: str) -> list[dict]:
        """Return the book's chunks in reading order."""
        rows = _query_dicts(
            self.connect(),
            f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE book_id = ? ORDER BY ordinal",
            (book_id,),
        )
        return rows

    def search_bm25(self, query: str, k: int = 10) -> list[dict]:
        """Return the k chunks that best match query by BM25 (titles weigh more than text)."""
        expression = match_expression(query)
        if expression is None:
            return []
        rows = _query_dicts(
            self.connect(),
            "SELECT c.chunk_id, c.book_id, b.title, b.authors, c.section_id, c.section_path, "
            "c.page_start, c.page_end, c.page_label_start, "
            "snippet(chunks_fts, 0, '[', ']', '…', 24) AS snippet, "
            "bm25(chunks_fts, 1.0, 4.0, 2.0) AS score "
            "FROM chunks_fts JOIN chunks c ON c.chunk_id = chunks_fts.rowid "
            "JOIN books b ON b.book_id = c.book_id "
            "WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?",
            (expression, k),
        )
        hits = rows
        for hit in hits:
            hit["authors"] = json.loads(hit["authors"])
        return hits

    def terms(self, book_id: str) -> list[dict]:
        """Return the book's back-of-book index terms with the sections they cite."""
        rows = _query_dicts(
            self.connect(),
            "SELECT term_id, book_id, term, parents, pages, section_ids FROM index_terms "
            "WHERE book_id = ? ORDER BY term_id",
            (book_id,),
        )
        for row in rows:
            for key in ("parents", "pages", "section_ids"):
                row[key] = json.loads(row[key])
        return rows


def _decode_book(row: dict) -> dict:
    for key in JSON_BOOK_FIELDS:
        row[key] = json.loads(row[key])
    row["toc_derived"] = bool(row["toc_derived"])
    return row


def book_summaries() -> list[dict]:
    """Return each indexed book as `hbi books --json` and `GET /books` show it."""
    from hbi_resources.vector_index import VectorIndexResource

    counts = VectorIndexResource().vector_counts()
    rows = []
    for book in TextIndexResource().books():
        embedded = counts.get(book["book_id"], 0)
        rows.append(
            {
                "book_id": book["book_id"],
                "title": book["title"],
                "authors": book["authors"],
                "format": book["format"],
                "pages": book["page_count"],
                "chunks": book["chunk_count"],
                "toc_entries": book["toc_entries"],
                "status": "ready" if embedded == book["chunk_count"] else "text-only",
            }
        )
    return rows
