"""Turn an extracted, chunked book into the rows every index stores: book, sections, chunks, terms.

These rows are the one shape shared by the SQLite index, the Neo4j graph and the backup bundle,
so a bundle can rebuild the indexes without re-extracting.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np

from hbi.books.book import ExtractedBook
from hbi.chunking import BookChunk

PATH_SEPARATOR = " > "


@dataclass(frozen=True)
class BookRow:
    book_id: str
    title: str
    authors: list[str]
    language: str | None
    language_source: str | None
    publisher: str | None
    date: str | None
    identifiers: list[str]
    description: str | None
    format: str
    page_count: int | None
    object_key: str
    etag: str | None
    content_hash: str
    size_bytes: int
    toc_derived: bool
    toc_entries: int
    toc_depth: int
    chunk_count: int
    token_count: int
    index_terms: int
    warnings: list[str]
    ocr_pages: list[int]
    ocr_confidence: float | None
    indexed_at: str


@dataclass(frozen=True)
class SectionRow:
    section_id: str
    book_id: str
    ordinal: int
    level: int
    title: str
    parent_id: str | None
    path: list[str]
    page: int | None
    page_label: str | None
    char_start: int
    char_end: int
    is_matter: bool


@dataclass(frozen=True)
class ChunkRow:
    chunk_id: int
    book_id: str
    ordinal: int
    section_id: str | None
    section_path: str
    book_title: str
    text: str
    char_start: int
    char_end: int
    page_start: int | None
    page_end: int | None
    page_label_start: str | None
    page_label_end: str | None
    token_count: int
    content_hash: str
    is_matter: bool


@dataclass(frozen=True)
class TermRow:
    term_id: str
    book_id: str
    term: str
    parents: list[str]
    pages: list[str]
    section_ids: list[str]


@dataclass(frozen=True)
class BookRows:
    """Everything one book contributes to the indexes."""

    book: BookRow
    sections: list[SectionRow]
    chunks: list[ChunkRow]
    terms: list[TermRow]


@dataclass(frozen=True)
class ChunkVectors:
    """A chunk's unit embedding and those of its sentences (none for a one-sentence chunk)."""

    chunk: np.ndarray  # (dim,) float32
    sentences: np.ndarray  # (sentences, dim) float32, in reading order

    def stacked(self) -> np.ndarray:
        """Give the chunk vector, then the sentence vectors, as one (1 + sentences, dim) array."""
        return np.vstack([self.chunk[None, :], self.sentences]).astype(np.float32, copy=False)

    @classmethod
    def from_stacked(cls, rows: np.ndarray) -> ChunkVectors:
        """Give the ChunkVectors whose `stacked()` is rows."""
        return cls(rows[0], rows[1:])


def chunk_id_for(book_id: str, ordinal: int) -> int:
    """Return the stable 60-bit integer id of a book's chunk (FTS5 rowid, vec0 key, graph link)."""
    digest = hashlib.sha256(f"{book_id}\x00{ordinal}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 4


def section_id_for(book_id: str, ordinal: int) -> str:
    """Return the id of a book's ToC section: the book id and the entry's place in the ToC."""
    return f"{book_id}#s{ordinal:04d}"


def row_dict(row: BookRow | SectionRow | ChunkRow | TermRow) -> dict:
    """Return a row as a plain dict (lists kept as lists)."""
    return asdict(row)


def json_list(values: list) -> str:
    return json.dumps(values, ensure_ascii=False)


def _sections(book_id: str, book: ExtractedBook) -> list[SectionRow]:
    ordered = sorted(enumerate(book.toc), key=lambda pair: (pair[1].offset, pair[0]))
    rows: list[SectionRow] = []
    stack: list[SectionRow] = []
    for ordinal, (_, entry) in enumerate(ordered):
        while stack and stack[-1].level >= entry.level:
            stack.pop()
        end = ordered[ordinal + 1][1].offset if ordinal + 1 < len(ordered) else len(book.text)
        parent = stack[-1] if stack else None
        row = SectionRow(
            section_id=section_id_for(book_id, ordinal),
            book_id=book_id,
            ordinal=ordinal,
            level=entry.level,
            title=entry.title,
            parent_id=parent.section_id if parent else None,
            path=[*(parent.path if parent else []), entry.title],
            page=entry.page,
            page_label=entry.page_label,
            char_start=entry.offset,
            char_end=max(end, entry.offset),
            is_matter=any(s <= entry.offset < e for s, e in book.matter_ranges),
        )
        rows.append(row)
        stack.append(row)
    return rows


def _resolve_terms(book_id: str, book: ExtractedBook, sections: list[SectionRow]) -> list[TermRow]:
    # An index cites printed page labels; map each to its physical page, then to the section
    # whose span holds that page's first character.
    page_by_label = {p.label or str(p.number): p for p in book.pages}
    starts = [s.char_start for s in sections]
    rows = []
    for term in book.back_index:
        section_ids: list[str] = []
        for label in term.pages:
            page = page_by_label.get(label) or page_by_label.get(re.split(r"[–-]", label)[0])
            if page is None or not sections:
                continue
            at = bisect_right(starts, page.start) - 1
            if at >= 0 and sections[at].section_id not in section_ids:
                section_ids.append(sections[at].section_id)
        key = "\x00".join([*term.parents, term.term])
        rows.append(
            TermRow(
                term_id=f"{book_id}#t{hashlib.sha256(key.encode()).hexdigest()[:12]}",
                book_id=book_id,
                term=term.term,
                parents=list(term.parents),
                pages=list(term.pages),
                section_ids=section_ids,
            )
        )
    return rows


def build_rows(
    *,
    book_id: str,
    book: ExtractedBook,
    chunks: list[BookChunk],
    object_key: str,
    etag: str | None,
    data: bytes,
) -> BookRows:
    """Return the rows of a book: metadata, ToC sections, chunks placed in them, index terms."""
    sections = _sections(book_id, book)
    by_toc_index = {
        toc_index: sections[rank]
        for rank, (toc_index, _) in enumerate(
            sorted(enumerate(book.toc), key=lambda pair: (pair[1].offset, pair[0]))
        )
    }
    title = book.metadata.title or object_key.rsplit("/", 1)[-1]
    chunk_rows = []
    for chunk in chunks:
        section = by_toc_index.get(chunk.section_index) if chunk.section_index is not None else None
        chunk_rows.append(
            ChunkRow(
                chunk_id=chunk_id_for(book_id, chunk.ordinal),
                book_id=book_id,
                ordinal=chunk.ordinal,
                section_id=section.section_id if section else None,
                section_path=PATH_SEPARATOR.join(section.path) if section else "",
                book_title=title,
                text=chunk.text,
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                page_label_start=chunk.page_label_start,
                page_label_end=chunk.page_label_end,
                token_count=chunk.token_count,
                content_hash=chunk.content_hash,
                is_matter=chunk.is_matter,
            )
        )
    terms = _resolve_terms(book_id, book, sections)
    meta = book.metadata
    row = BookRow(
        book_id=book_id,
        title=title,
        authors=list(meta.authors),
        language=meta.language,
        language_source=meta.language_source,
        publisher=meta.publisher,
        date=meta.date,
        identifiers=list(meta.identifiers),
        description=meta.description,
        format=book.format,
        page_count=book.page_count,
        object_key=object_key,
        etag=etag,
        content_hash=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        toc_derived=book.toc_derived,
        toc_entries=len(sections),
        toc_depth=max((len(s.path) for s in sections), default=0),
        chunk_count=len(chunk_rows),
        token_count=sum(c.token_count for c in chunk_rows),
        index_terms=len(terms),
        warnings=list(book.warnings),
        ocr_pages=list(book.ocr_pages),
        ocr_confidence=book.ocr_confidence,
        indexed_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return BookRows(row, sections, chunk_rows, terms)
