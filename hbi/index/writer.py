"""The one write path into the index: apply books' bundles and remove books, atomically.

Assets, restores, replicas, evaluation and benchmarks all write rows through `apply_books` and
`remove_books`. A batch is one transaction, so a writer killed mid-batch leaves each of its
books as it was before (whole, or absent); applying the same bundle again changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import apsw
import numpy as np

from hbi.bundle.files import BookBundle
from hbi.index.db import write_transaction

BOOK_COLUMNS = (
    "book_id, title, authors, language, language_source, publisher, date, identifiers, "
    "description, format, page_count, object_key, etag, content_hash, size_bytes, toc_derived, "
    "toc_entries, toc_depth, chunk_count, token_count, index_terms, warnings, ocr_pages, "
    "ocr_confidence, indexed_at"
)
SECTION_COLUMNS = (
    "section_id, book_id, ordinal, level, title, parent_id, path, page, page_label, "
    "char_start, char_end, is_matter"
)
CHUNK_COLUMNS = (
    "chunk_id, book_id, ordinal, section_id, section_path, book_title, text, char_start, "
    "char_end, page_start, page_end, page_label_start, page_label_end, token_count, "
    "content_hash, is_matter"
)
TERM_COLUMNS = "term_id, book_id, term, parents, pages, section_ids"
JSON_BOOK_FIELDS = ("authors", "identifiers", "warnings", "ocr_pages")
# The external-content FTS5 tables over chunks: words, and bigrams of unsegmented scripts.
FTS_TABLES = ("chunks_fts", "chunks_cjk")


@dataclass(frozen=True)
class ProjectedBook:
    """A book to write: its bundle, the bundle's fingerprint and the pointer that named it."""

    bundle: BookBundle
    fingerprint: str
    pointer_etag: str = ""
    with_vectors: bool = True


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _values(row: dict, columns: str, json_fields: tuple[str, ...] = ()) -> tuple:
    return tuple(
        _json(row[name]) if name in json_fields else row[name] for name in columns.split(", ")
    )


def _insert(connection: apsw.Connection, table: str, columns: str, rows: list[tuple]) -> None:
    marks = ", ".join("?" * len(columns.split(", ")))
    connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _delete_book(connection: apsw.Connection, book_id: str) -> bool:
    """Delete every row of the book; return whether it was there."""
    existed = connection.execute(
        "SELECT 1 FROM projected_books WHERE book_id = ? UNION SELECT 1 FROM books "
        "WHERE book_id = ?",
        (book_id, book_id),
    ).fetchone()
    for table in ("chunk_vectors", "sentence_vectors"):
        connection.execute(
            f"DELETE FROM {table} WHERE chunk_id IN "
            "(SELECT chunk_id FROM chunks WHERE book_id = ?)",
            (book_id,),
        )
    # External-content FTS5 rows are removed with the 'delete' command and the old values.
    for fts in FTS_TABLES:
        connection.execute(
            f"INSERT INTO {fts}({fts}, rowid, text, section_path, book_title) "
            "SELECT 'delete', chunk_id, text, section_path, book_title FROM chunks "
            "WHERE book_id = ?",
            (book_id,),
        )
    for table in ("index_terms", "chunks", "sections", "books", "projected_books"):
        connection.execute(f"DELETE FROM {table} WHERE book_id = ?", (book_id,))
    return existed is not None


def _write_book(connection: apsw.Connection, book: ProjectedBook) -> None:
    bundle = book.bundle
    book_id = bundle.book["book_id"]
    _delete_book(connection, book_id)
    row = {**bundle.book, "toc_derived": int(bool(bundle.book["toc_derived"]))}
    _insert(connection, "books", BOOK_COLUMNS, [_values(row, BOOK_COLUMNS, JSON_BOOK_FIELDS)])
    _insert(
        connection,
        "sections",
        SECTION_COLUMNS,
        [_values(s, SECTION_COLUMNS, ("path",)) for s in bundle.sections],
    )
    _insert(connection, "chunks", CHUNK_COLUMNS, [_values(c, CHUNK_COLUMNS) for c in bundle.chunks])
    fts_rows = [
        (c["chunk_id"], c["text"], c["section_path"], c["book_title"]) for c in bundle.chunks
    ]
    for fts in FTS_TABLES:
        connection.executemany(
            f"INSERT INTO {fts}(rowid, text, section_path, book_title) VALUES (?, ?, ?, ?)",
            fts_rows,
        )
    _insert(
        connection,
        "index_terms",
        TERM_COLUMNS,
        [_values(t, TERM_COLUMNS, ("parents", "pages", "section_ids")) for t in bundle.terms],
    )
    vectors = 0
    if book.with_vectors:
        matrix = np.ascontiguousarray(bundle.vectors, dtype=np.float32)
        connection.executemany(
            "INSERT INTO chunk_vectors (chunk_id, embedding) VALUES (?, ?)",
            [(chunk_id, matrix[i].tobytes()) for i, chunk_id in enumerate(bundle.chunk_ids)],
        )
        connection.executemany(
            "INSERT INTO sentence_vectors (chunk_id, ordinal, embedding) VALUES (?, ?, ?)",
            [
                (chunk_id, ordinal, np.asarray(vector, np.float32).tobytes())
                for chunk_id, sentences in bundle.sentence_vectors.items()
                for ordinal, vector in enumerate(sentences)
            ],
        )
        vectors = len(bundle.chunk_ids)
    connection.execute(
        "INSERT INTO projected_books (book_id, fingerprint, pointer_etag, model_id, vectors, "
        "projected_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            book_id,
            book.fingerprint,
            book.pointer_etag,
            bundle.model_id if book.with_vectors else "",
            vectors,
            datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )


def apply_books(connection: apsw.Connection, books: list[ProjectedBook]) -> None:
    """Replace each book's rows with its bundle's, all in one transaction."""
    with write_transaction(connection):
        for book in books:
            _write_book(connection, book)


def remove_books(connection: apsw.Connection, book_ids: list[str]) -> list[str]:
    """Delete those books' rows in one transaction; return the ones that were there."""
    with write_transaction(connection):
        return [book_id for book_id in book_ids if _delete_book(connection, book_id)]


def note_pointer(connection: apsw.Connection, book_id: str, pointer_etag: str) -> None:
    """Record that a rewritten library pointer still names the bundle the book holds."""
    with write_transaction(connection):
        connection.execute(
            "UPDATE projected_books SET pointer_etag = ? WHERE book_id = ?",
            (pointer_etag, book_id),
        )


def projected(connection: apsw.Connection, verify: bool = False) -> dict[str, tuple[str, str]]:
    """Return each projected book's (bundle fingerprint, library pointer ETag).

    With `verify`, a book whose rows are not whole (chunks or vectors fewer than its bundle
    had) is returned with neither, so that a projection applies its bundle again.
    """
    rows = connection.execute("SELECT book_id, fingerprint, pointer_etag FROM projected_books")
    held = {book_id: (fingerprint, etag) for book_id, fingerprint, etag in rows}
    if verify:
        damaged = connection.execute(
            "SELECT p.book_id FROM projected_books p LEFT JOIN books b ON b.book_id = p.book_id "
            "WHERE b.book_id IS NULL "
            "OR (SELECT count(*) FROM chunks c WHERE c.book_id = p.book_id) != b.chunk_count "
            "OR (p.model_id != '' AND p.vectors != (SELECT count(*) FROM chunks c "
            "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id WHERE c.book_id = p.book_id))"
        )
        for (book_id,) in damaged:
            held[book_id] = ("", "")
    return held
