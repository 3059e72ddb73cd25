"""What the index holds, book by book: rows, counts and consistency figures for checks and CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence

import apsw

from hbi.books.book import page_ranges
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
            "language": row["language"],
            "pages": row["page_count"],
            "ocr": ocr_summary(row),
            "chunks": row["chunk_count"],
            "toc_entries": row["toc_entries"],
            "status": "ready"
            if counts.get(row["book_id"], 0) == row["chunk_count"]
            else "text-only",
        }
        for row in books(connection)
    ]


def ocr_summary(row: dict) -> dict | None:
    """Return which of a book's pages were read by OCR and how confidently (None: no page)."""
    pages = row["ocr_pages"]
    if not pages:
        return None
    return {
        "pages": len(pages),
        "page_ranges": page_ranges(pages),
        "mean_confidence": row["ocr_confidence"],
    }


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


_CHUNK_SELECT = (
    "SELECT "
    + ", ".join(f"c.{name}" for name in CHUNK_COLUMNS.split(", "))
    + ", c.book_title AS title, s.path AS section_titles "
    "FROM chunks c LEFT JOIN sections s ON s.section_id = c.section_id "
)


def _decode_chunks(rows: list[dict]) -> list[dict]:
    for row in rows:
        titles = row.pop("section_titles")
        # The sections' JSON path, not the FTS column joined with ' > ', which a title may hold.
        row["section_path"] = json.loads(titles) if titles is not None else []
        row["page_label"] = row["page_label_start"]
        row["is_matter"] = bool(row["is_matter"])
    return rows


def chunk(connection: apsw.Connection, chunk_id: int) -> dict | None:
    """Return the chunk's row with its book `title`, `section_path` titles and `page_label`."""
    rows = _dicts(connection, _CHUNK_SELECT + "WHERE c.chunk_id = ?", (chunk_id,))
    return _decode_chunks(rows)[0] if rows else None


def chunks_around(
    connection: apsw.Connection, chunk_id: int, before: int, after: int
) -> tuple[list[dict], list[dict]]:
    """Return up to `before` chunks preceding the chunk and `after` following it, in reading
    order, from the same book (both empty when the chunk is unknown)."""
    found = connection.execute(
        "SELECT book_id, ordinal FROM chunks WHERE chunk_id = ?", (chunk_id,)
    ).fetchone()
    if found is None:
        return [], []
    book_id, ordinal = found
    earlier = _dicts(
        connection,
        _CHUNK_SELECT + "WHERE c.book_id = ? AND c.ordinal < ? ORDER BY c.ordinal DESC LIMIT ?",
        (book_id, ordinal, max(before, 0)),
    )
    later = _dicts(
        connection,
        _CHUNK_SELECT + "WHERE c.book_id = ? AND c.ordinal > ? ORDER BY c.ordinal LIMIT ?",
        (book_id, ordinal, max(after, 0)),
    )
    return _decode_chunks(earlier[::-1]), _decode_chunks(later)


def chunks_on_pages(
    connection: apsw.Connection, book_id: str, first_page: int, last_page: int
) -> list[dict]:
    """Return the book's chunks whose pages overlap first_page..last_page, in reading order."""
    return _decode_chunks(
        _dicts(
            connection,
            _CHUNK_SELECT + "WHERE c.book_id = ? AND c.page_start <= ? "
            "AND coalesce(c.page_end, c.page_start) >= ? ORDER BY c.ordinal",
            (book_id, last_page, first_page),
        )
    )


def section_chunks(connection: apsw.Connection, book_id: str, section_id: str | None) -> list[dict]:
    """Return the section's own chunks in reading order; None gives the chunks in no section
    (front matter before the first ToC entry)."""
    if section_id is None:
        where, params = "WHERE c.book_id = ? AND c.section_id IS NULL", (book_id,)
    else:
        where, params = "WHERE c.book_id = ? AND c.section_id = ?", (book_id, section_id)
    return _decode_chunks(_dicts(connection, _CHUNK_SELECT + where + " ORDER BY c.ordinal", params))


def index_terms(
    connection: apsw.Connection,
    *,
    book_ids: Sequence[str] | None = None,
    term: str | None = None,
    prefix: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """Return one page of back-of-book index terms and how many match in all.

    `term` matches a whole term and `prefix` its start, both ignoring case; None for `book_ids`
    searches every book. Each row carries its book's `title` and `sections`: the cited sections'
    ids, titles and pages, where the index still holds them.
    """
    clauses, params = [], []
    if book_ids is not None:
        clauses.append(f"t.book_id IN ({', '.join('?' * len(book_ids))})" if book_ids else "0")
        params.extend(book_ids)
    if term is not None:
        clauses.append("t.term = ? COLLATE NOCASE")
        params.append(term)
    if prefix:
        # LIKE treats % and _ as wildcards; escaped, a prefix matches only itself.
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("t.term LIKE ? ESCAPE '\\'")
        params.append(escaped + "%")
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    total = connection.execute(
        f"SELECT count(*) FROM index_terms t {where}", tuple(params)
    ).fetchone()[0]
    rows = _dicts(
        connection,
        "SELECT t.term_id, t.book_id, b.title, t.term, t.parents, t.pages, t.section_ids "
        f"FROM index_terms t JOIN books b ON b.book_id = t.book_id {where} "
        # Alphabetical by the whole heading, so a subentry follows its parent as in the book.
        "ORDER BY lower((SELECT group_concat(value, char(31)) FROM "
        "(SELECT value FROM json_each(t.parents) UNION ALL SELECT t.term))), t.book_id "
        "LIMIT ? OFFSET ?",
        (*params, max(limit, 0), max(offset, 0)),
    )
    for row in rows:
        for key in ("parents", "pages", "section_ids"):
            row[key] = json.loads(row[key])
    cited = sorted({section_id for row in rows for section_id in row["section_ids"]})
    known = {
        row["section_id"]: row
        for row in _dicts(
            connection,
            "SELECT section_id, title, page, page_label FROM sections "
            f"WHERE section_id IN ({', '.join('?' * len(cited))})",
            tuple(cited),
        )
    }
    for row in rows:
        row["sections"] = [known[s] for s in row["section_ids"] if s in known]
    return rows, total


def section(connection: apsw.Connection, section_id: str) -> dict | None:
    """Return the ToC section's row (path decoded), or None if no book has it."""
    rows = _dicts(
        connection, f"SELECT {SECTION_COLUMNS} FROM sections WHERE section_id = ?", (section_id,)
    )
    for row in rows:
        row["path"] = json.loads(row["path"])
        row["is_matter"] = bool(row["is_matter"])
    return rows[0] if rows else None


def section_at_page(connection: apsw.Connection, book_id: str, page: int) -> dict | None:
    """Return the section in effect on a physical page: the last one in reading order that
    starts on or before it (None before the first)."""
    rows = _dicts(
        connection,
        "SELECT section_id FROM sections WHERE book_id = ? AND page <= ? "
        "ORDER BY ordinal DESC LIMIT 1",
        (book_id, page),
    )
    return section(connection, rows[0]["section_id"]) if rows else None


def reading_units(connection: apsw.Connection, book_id: str) -> list[dict]:
    """Return the book's sections that hold chunks of their own, in reading order, as
    {section_id, title, ordinal}; the chunks before the first ToC entry come first as
    section_id None (title None, ordinal -1)."""
    return _dicts(
        connection,
        "SELECT c.section_id, s.title, coalesce(s.ordinal, -1) AS ordinal FROM chunks c "
        "LEFT JOIN sections s ON s.section_id = c.section_id WHERE c.book_id = ? "
        "GROUP BY c.section_id ORDER BY min(c.ordinal)",
        (book_id,),
    )
