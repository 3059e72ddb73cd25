"""A PDF book's page as the reader shows it: its text layer, its place in the book, the passage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import apsw

from hbi.index import reads
from hbi.reader.errors import NotAPdfError, NotFoundError
from hbi.reader.marks import mark_lines
from hbi.reader.pdf_pages import page_png, page_text


def pdf_page(connection: apsw.Connection, book_id: str, page: int) -> dict:
    """Return the row of the PDF book that has that 1-based page; raise when there is none."""
    book = reads.book(connection, book_id)
    if book is None:
        raise NotFoundError(book_id, "no such book in the index")
    if book["format"] != "pdf":
        raise NotAPdfError(book_id, f"the book is {book['format']}, not PDF: it has no pages")
    if not 1 <= page <= (book["page_count"] or 0):
        raise NotFoundError(book_id, f"no page {page} (the book has {book['page_count']})")
    return book


def page_view(
    connection: apsw.Connection,
    book_file: Callable[[dict], Path],
    book_id: str,
    page: int,
    chunk_id: int | None = None,
) -> dict:
    """Return the page's text lines with their boxes, its label and breadcrumb, the passages
    on it, and, with chunk_id, that passage's text marked in its lines.

    `book_file` gives the local copy of a book's file from its row (`BookFiles.path`).
    """
    book = pdf_page(connection, book_id, page)
    passage = None
    if chunk_id is not None:
        passage = reads.chunk(connection, chunk_id)
        if passage is None or passage["book_id"] != book_id:
            raise NotFoundError(book_id, f"no passage {chunk_id} in this book")
    on_page = reads.chunks_on_pages(connection, book_id, page, page)
    text = page_text(book_file(book), book_id, page)
    in_view = passage is not None and any(c["chunk_id"] == chunk_id for c in on_page)
    spans = mark_lines([line.text for line in text.lines], passage["text"] if in_view else "")
    if in_view:
        crumbs, section_id = passage["section_path"], passage["section_id"]
    else:
        section = reads.section_at_page(connection, book_id, page)
        crumbs = section["path"] if section else []
        section_id = section["section_id"] if section else None
    return {
        "book_id": book_id,
        "title": book["title"],
        "format": book["format"],
        "page": page,
        "page_count": book["page_count"],
        "page_label": _index_label(on_page, page) or text.label,
        "width": round(text.width, 2),
        "height": round(text.height, 2),
        "breadcrumb": crumbs,
        "section_id": section_id,
        "prev": page - 1 if page > 1 else None,
        "next": page + 1 if page < book["page_count"] else None,
        "lines": [
            {
                "x": line.x,
                "y": line.y,
                "w": line.w,
                "h": line.h,
                "spans": [{"text": piece, "mark": mark} for piece, mark in line_spans],
            }
            for line, line_spans in zip(text.lines, spans, strict=True)
        ],
        "chunks": [{"chunk_id": c["chunk_id"], "section_id": c["section_id"]} for c in on_page],
    }


def page_image(
    connection: apsw.Connection,
    book_file: Callable[[dict], Path],
    book_id: str,
    page: int,
    width: int,
) -> bytes:
    """Return the page rendered as a PNG `width` pixels wide (clamped to the allowed widths)."""
    book = pdf_page(connection, book_id, page)
    return page_png(book_file(book), book_id, page, width)


def _index_label(chunks: list[dict], page: int) -> str | None:
    """The page's printed label as the index recorded it with a passage starting or ending there."""
    for chunk in chunks:
        if chunk["page_start"] == page and chunk["page_label_start"]:
            return chunk["page_label_start"]
        if chunk["page_end"] == page and chunk["page_label_end"]:
            return chunk["page_label_end"]
    return None
