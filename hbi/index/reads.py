"""What the index holds, book by book: rows, counts and consistency figures for checks and CLI."""

from __future__ import annotations

import json

import apsw

from hbi.index.writer import BOOK_COLUMNS, CHUNK_COLUMNS, JSON_BOOK_FIELDS, SECTION_COLUMNS


def _dicts(connection: apsw.Connection, sql: str, params: tuple = ()) -> list[dict]:
    cursor = connection.cursor()
    cursor.row_trace = lambda c, row: dict(
        zip((d[0] for d in c.get_description()), row, strict=True)
    )
    return list(cursor.execute(sql, params))


def _decode_book(row: dict) -> dict:
    for key in JSON_BOOK_FIELDS:
        row[key] = json.loads(row[key])
    row["toc_derived"] = bool(row["toc_derived"])
    return row


def book(connection: apsw.Connection, book_id: str) -> dict | None:
    """Return the book's row (JSON fields decoded), or None if it is not indexed."""
    rows = _dicts(connection, f"SELECT {BOOK_COLUMNS} FROM books WHERE book_id = ?", (book_id,))
    return _decode_book(rows[0]) if rows else None


def books(connection: apsw.Connection) -> list[dict]:
    """Return every indexed book's row, ordered by book id."""
    rows = _dicts(connection, f"SELECT {BOOK_COLUMNS} FROM books ORDER BY book_id")
    return [_decode_book(row) for row in rows]


def sections(connection: apsw.Connection, book_id: str) -> list[dict]:
    """Return the book's ToC sections in reading order."""
    rows = _dicts(
        connection,
        f"SELECT {SECTION_COLUMNS} FROM sections WHERE book_id = ? ORDER BY ordinal",
        (book_id,),
    )
    for row in rows:
        row["path"] = json.loads(row["path"])
        row["is_matter"] = bool(row["is_matter"])
    return rows


def chunks(connection: apsw.Connection, book_id: str) -> list[dict]:
    """Return the book's chunks in reading order."""
    return _dicts(
        connection,
        f"SELECT {CHUNK_COLUMNS} FROM chunks WHERE book_id = ? ORDER BY ordinal",
        (book_id,),
    )


def terms(connection: apsw.Connection, book_id: str) -> list[dict]:
    """Return the book's back-of-book index terms with the sections they cite."""
    rows = _dicts(
        connection,
        "SELECT term_id, book_id, term, parents, pages, section_ids FROM index_terms "
        "WHERE book_id = ? ORDER BY term_id",
        (book_id,),
    )
    for row in rows:
        for key in ("parents", "pages", "section_ids"):
            row[key] = json.loads(row[key])
    return rows


def projections(connection: apsw.Connection) -> dict[str, dict]:
    """Return each projected book's bundle fingerprint, model, vector count and time."""
    rows = _dicts(
        connection,
        "SELECT book_id, fingerprint, model_id, vectors, projected_at FROM projected_books",
    )
    return {row.pop("book_id"): row for row in rows}


def vector_counts(connection: apsw.Connection) -> dict[str, int]:
    """Return, per book, how many of its chunks have a vector (books with none left out)."""
    return dict(
        connection.execute(
            "SELECT c.book_id, count(*) FROM chunks c "
            "JOIN chunk_vectors v ON v.chunk_id = c.chunk_id GROUP BY c.book_id"
        )
    )


def book_summaries(connection: apsw.Connection) -> list[dict]:
    """Return each indexed book as `hbi books --json` and `GET /books` show it."""
    counts = vector_counts(connection)
    return [
        {
            "book_id": row["book_id"],
            "title": row["title"],
            "authors": row["authors"],
            "format": row["format"],
            "pages": row["page_count"],
            "chunks": row["chunk_count"],
            "toc_entries": row["toc_entries"],
            "status": "ready"
            if counts.get(row["book_id"], 0) == row["chunk_count"]
            else "text-only",
        }
        for row in books(connection)
    ]


def consistency(connection: apsw.Connection) -> dict[str, int]:
    """Return the figures that must agree in a whole index: rows, FTS entries and vectors.

    `chunks_without_vector` counts chunks of books projected with vectors; orphans are vectors
    whose chunk is gone; every book row must have its projection record and the reverse.
    """
    one = lambda sql: connection.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "books": one("SELECT count(*) FROM books"),
        "projected_books": one("SELECT count(*) FROM projected_books"),
        "books_without_projection": one(
            "SELECT count(*) FROM books WHERE book_id NOT IN (SELECT book_id FROM projected_books)"
        ),
        "chunks": one("SELECT count(*) FROM chunks"),
        "fts_rows": one("SELECT count(*) FROM chunks_fts"),
        "vectors": one("SELECT count(*) FROM chunk_vectors"),
        "sentence_vectors": one("SELECT count(*) FROM sentence_vectors"),
        "chunks_without_vector": one(
            "SELECT count(*) FROM chunks c JOIN projected_books p ON p.book_id = c.book_id "
            "WHERE p.model_id != '' AND c.chunk_id NOT IN (SELECT chunk_id FROM chunk_vectors)"
        ),
        "orphan_vectors": one(
            "SELECT count(*) FROM chunk_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
        ),
        "orphan_sentence_vectors": one(
            "SELECT count(*) FROM sentence_vectors "
            "WHERE chunk_id NOT IN (SELECT chunk_id FROM chunk_vectors)"
        ),
    }
