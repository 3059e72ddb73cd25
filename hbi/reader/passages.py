"""A book's text as the reader shows it: a section's passages, or one passage and its neighbours.

Consecutive chunks overlap by a few tokens (hbi/chunking.py), so a section shown chunk after
chunk would repeat those words: each chunk's text is cut to what the one before it has not
shown. The marked chunk keeps its whole text, so the hit's words are inside its mark; the
chunk before it is cut where it begins.
"""

from __future__ import annotations

import apsw

from hbi.index import reads
from hbi.reader.errors import NotFoundError

FRONT_MATTER = ""
MAX_AROUND = 5


def passage_view(
    connection: apsw.Connection,
    book_id: str,
    section_id: str | None = None,
    chunk_id: int | None = None,
) -> dict:
    """Return a section of the book with its passages, chunk_id's marked.

    section_id None means the chunk's section (the book's first when there is no chunk either);
    FRONT_MATTER ("") means the passages before the first ToC entry.
    """
    book = reads.book(connection, book_id)
    if book is None:
        raise NotFoundError(book_id, "no such book in the index")
    marked = None
    if chunk_id is not None:
        marked = reads.chunk(connection, chunk_id)
        if marked is None or marked["book_id"] != book_id:
            raise NotFoundError(book_id, f"no passage {chunk_id} in this book")
    units = reads.reading_units(connection, book_id)
    if section_id is None:
        section_id = marked["section_id"] if marked else (units[0]["section_id"] if units else None)
    elif section_id == FRONT_MATTER:
        section_id = None
    section = None
    if section_id is not None:
        section = reads.section(connection, section_id)
        if section is None or section["book_id"] != book_id:
            raise NotFoundError(book_id, f"no section {section_id} in this book")
    elif not any(unit["section_id"] is None for unit in units):
        raise NotFoundError(book_id, "the book has no passages before its first ToC entry")
    chunks = reads.section_chunks(connection, book_id, section_id)
    ordinal = section["ordinal"] if section else -1
    earlier = [unit for unit in units if unit["ordinal"] < ordinal]
    later = [unit for unit in units if unit["ordinal"] > ordinal]
    return {
        "book_id": book_id,
        "title": book["title"],
        "format": book["format"],
        "section_id": section_id,
        "section_title": section["title"] if section else None,
        "breadcrumb": section["path"] if section else [],
        "page_label": section["page_label"] if section else None,
        "page": section["page"] if section else (chunks[0]["page_start"] if chunks else None),
        "prev": _link(earlier[-1]) if earlier else None,
        "next": _link(later[0]) if later else None,
        "chunks": [
            {
                "chunk_id": chunk["chunk_id"],
                "text": text,
                "page_start": chunk["page_start"],
                "page_end": chunk["page_end"],
                "mark": chunk["chunk_id"] == chunk_id,
            }
            for chunk, text in zip(chunks, _shown_texts(chunks, chunk_id), strict=True)
            if text
        ],
    }


def chunk_view(connection: apsw.Connection, chunk_id: int, around: int = 0) -> dict:
    """Return the passage with its place in the book and up to `around` (at most MAX_AROUND)
    neighbouring passages of the same book on each side."""
    row = reads.chunk(connection, chunk_id)
    if row is None:
        raise NotFoundError(f"chunk {chunk_id}", "no such passage in the index")
    around = min(max(around, 0), MAX_AROUND)
    before, after = reads.chunks_around(connection, chunk_id, around, around)
    return {
        "chunk_id": row["chunk_id"],
        "book_id": row["book_id"],
        "title": row["title"],
        **_passage(row),
        "before": [{"chunk_id": c["chunk_id"], **_passage(c)} for c in before],
        "after": [{"chunk_id": c["chunk_id"], **_passage(c)} for c in after],
    }


def book_terms(
    connection: apsw.Connection, book_id: str, prefix: str | None, limit: int, offset: int
) -> tuple[list[dict], int]:
    """Return a page of the book's back-of-book index terms and how many there are in all."""
    if reads.book(connection, book_id) is None:
        raise NotFoundError(book_id, "no such book in the index")
    rows, total = reads.index_terms(
        connection, book_ids=[book_id], prefix=prefix, limit=limit, offset=offset
    )
    fields = ("term", "parents", "pages", "section_ids", "sections")
    return [{field: row[field] for field in fields} for row in rows], total


def _passage(row: dict) -> dict:
    fields = ("section_id", "section_path", "page_start", "page_end", "page_label", "text")
    return {field: row[field] for field in fields}


def _link(unit: dict) -> dict:
    return {"section_id": unit["section_id"], "title": unit["title"]}


def _shown_texts(chunks: list[dict], marked_id: int | None) -> list[str]:
    """Each chunk's text less what the chunks before it show (all of it for the marked one)."""
    marked = next((c for c in chunks if c["chunk_id"] == marked_id), None)
    texts, shown_to = [], None
    for chunk in chunks:
        start, end, text = chunk["char_start"], chunk["char_end"], chunk["text"]
        if len(text) != end - start:
            # Offsets that do not describe this text cannot cut it.
            texts.append(text)
            shown_to = end
            continue
        cut_from = start if chunk is marked or shown_to is None else max(start, shown_to)
        cut_to = end
        if marked is not None and chunk["ordinal"] < marked["ordinal"]:
            cut_to = min(end, marked["char_start"])
        texts.append(text[cut_from - start : max(cut_to, cut_from) - start])
        shown_to = max(shown_to or 0, cut_to)
    return texts
