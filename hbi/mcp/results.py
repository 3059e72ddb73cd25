"""What each MCP tool gives back: the pydantic models that are the tools' output schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Hit(BaseModel):
    """One passage that answers a search, placed in its book."""

    rank: int = Field(description="1-based rank in the whole result list")
    book_id: str
    title: str
    authors: list[str]
    section_path: list[str] = Field(description="ToC titles from the chapter down, root first")
    section_id: str | None = Field(description="The innermost ToC section (for get_toc, search)")
    page: int | None = Field(description="1-based physical page where the passage starts")
    page_end: int | None
    page_label: str | None = Field(description="The printed page number, where the book has one")
    snippet: str = Field(description="The best window of the passage, query terms in [brackets]")
    chunk_id: int = Field(description="The passage's id, for get_passage")
    score: float
    ocr: bool = Field(
        description="The passage's page was read by OCR from a scan: its text may have errors"
    )


class SearchPage(BaseModel):
    """A page of hits and where the next page starts."""

    query: str
    mode: str
    hits: list[Hit]
    next_offset: int | None = Field(
        description="Pass as `offset` to get the next page; null when there are no more hits"
    )


class BookSummary(BaseModel):
    """An indexed book and its size."""

    book_id: str
    title: str
    authors: list[str]
    format: str
    language: str | None = Field(
        description="The book's language (from its metadata, else detected), e.g. en, fr, zh"
    )
    pages: int | None = Field(description="Physical pages (PDF); null for reflowable formats")
    ocr: dict | None = Field(
        description="Pages read by OCR: {pages, page_ranges, mean_confidence}; null for none"
    )
    chunks: int = Field(description="Passages in the index")
    toc_entries: int
    status: str = Field(description="ready (searchable by text and meaning) or text-only")


class BookList(BaseModel):
    """A page of the indexed books."""

    books: list[BookSummary]
    total: int
    next_offset: int | None


class TocEntry(BaseModel):
    """One entry of a book's table of contents."""

    level: int = Field(description="1 for chapters, 2 for their sections, ...")
    title: str
    page: int | None
    page_label: str | None
    section_id: str = Field(description="Pass to search as `section_id` to search inside it")


class Toc(BaseModel):
    """A book's table of contents in reading order."""

    book_id: str
    title: str
    entries: list[TocEntry]
    total: int
    next_offset: int | None


class Passage(BaseModel):
    """A passage of a book with where it sits."""

    chunk_id: int
    book_id: str
    section_id: str | None
    section_path: list[str]
    page: int | None
    page_end: int | None
    page_label: str | None
    text: str


class PassageInContext(Passage):
    """A passage, its book's title and the passages around it in reading order."""

    title: str
    before: list[Passage]
    after: list[Passage]


class Pages(BaseModel):
    """The passages on a range of a book's pages, a bounded number of characters at a time."""

    book_id: str
    title: str
    first_page: int
    last_page: int
    page_count: int
    passages: list[Passage]
    next_offset: int | None = Field(
        description="Pass as `offset` (same pages) for the rest; null when nothing is left"
    )


class CitedSection(BaseModel):
    """A ToC section that a back-of-book index term points to."""

    section_id: str
    title: str
    page: int | None
    page_label: str | None


class IndexTerm(BaseModel):
    """An entry of a book's back-of-book index."""

    book_id: str
    title: str
    term: str
    parents: list[str] = Field(description="The headings it sits under, outermost first")
    pages: list[str] = Field(description="The page references as printed in the index")
    sections: list[CitedSection]


class IndexTerms(BaseModel):
    """A page of back-of-book index entries."""

    terms: list[IndexTerm]
    total: int
    next_offset: int | None


class LibraryStatus(BaseModel):
    """How big the library is and whether its stores answer."""

    books: int
    ready_books: int = Field(description="Books searchable by text and by meaning")
    chunks: int
    vectors: int
    ok: bool = Field(description="Whether the index, Neo4j and MinIO all answer")
    checks: dict[str, dict] = Field(description="Each store's check: ok, version, detail")
