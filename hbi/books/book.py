"""The domain model every stage shares: what extraction yields and what chunking produces."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BookMetadata:
    """Book-level facts read from the file itself (OPF, PDF info dictionary, title lines)."""

    title: str | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    # "metadata" when the file names its language, "detected" when it was read from the text.
    language_source: str | None = None
    publisher: str | None = None
    date: str | None = None
    identifiers: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class TocEntry:
    """One table-of-contents entry and where its section starts in the book's text.

    `offset` is a character offset into `ExtractedBook.text`; the section of entry i runs to the
    offset of the next entry in reading order. `page` is the 1-based physical page the entry
    points to (PDF only), `page_label` the printed label of that page where the PDF has labels.
    """

    level: int
    title: str
    offset: int
    page: int | None = None
    page_label: str | None = None


@dataclass(frozen=True)
class PageSpan:
    """A physical page of a paged book: its number, printed label and its slice of the text."""

    number: int
    label: str | None
    start: int
    end: int


@dataclass(frozen=True)
class IndexTerm:
    """A back-of-book index entry: a term (with its parent terms) and the page labels it cites."""

    term: str
    parents: tuple[str, ...]
    pages: tuple[str, ...]


@dataclass
class ExtractedBook:
    """A book's text with its structure: ToC entries and pages located by character offsets."""

    format: str  # "pdf" | "epub" | "markdown" | "text"
    text: str
    toc: list[TocEntry]
    metadata: BookMetadata = field(default_factory=BookMetadata)
    pages: list[PageSpan] = field(default_factory=list)
    toc_derived: bool = False
    back_index: list[IndexTerm] = field(default_factory=list)
    # Character ranges [start, end) that are front or back matter (title page, imprint,
    # colophon, licence): kept and indexed, but marked on their chunks.
    matter_ranges: list[tuple[int, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Physical pages (1-based) whose text came from OCR, and the mean Tesseract word confidence
    # (0-100) over them; both are also told in a warning, which is how they reach the index.
    ocr_pages: list[int] = field(default_factory=list)
    ocr_confidence: float | None = None

    @property
    def page_count(self) -> int | None:
        return len(self.pages) or None


def page_ranges(numbers: list[int]) -> str:
    """Ascending page numbers written as ranges: "1-3, 7, 9-12"."""
    ranges: list[list[int]] = []
    for number in numbers:
        if ranges and number == ranges[-1][1] + 1:
            ranges[-1][1] = number
        else:
            ranges.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
