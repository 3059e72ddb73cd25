"""A ToC derived from a PDF's headings, for PDFs that have no outline (toc_derived=True).

The rule: a heading is a paragraph of at most two lines and 120 characters that starts with a
capital or digit, does not end like a sentence or carry dot leaders (contents pages), and is
either set at least 15% larger than the body text (the most common size, weighted by
characters), or bold and numbered like a section ("2", "2.6.1", "C.1", "Appendix B"). The
level of a numbered heading is its depth (2.6.1 → 3); an unnumbered one is one level below
each larger heading size found. A line larger than every heading that appears only on the
first page is the document's title, not a ToC entry, and pages set mostly in large type
(covers, title pages) contribute no headings. If headings are implausibly many (more
than three per page and over 200), the signal is noise and no ToC is derived.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from hbi.books.book import PageSpan, TocEntry
from hbi.extract.book_text import clean_title
from hbi.extract.pdf_layout import PdfLine

_NUMBERED = re.compile(
    r"^(?:(?P<number>\d{1,2}(?:\.\d{1,2})*|[A-Z](?:\.\d{1,2})+)\.?|Appendix\s+[A-Z]\b)\s*\S"
)
_LEADERS = re.compile(r"(?:\.\s?){4,}|…{2,}")
_SENTENCE_END = re.compile(r"[.,;:]$")
_MAX_HEADING_CHARS = 120
_SIZE_STEP = 1.15


@dataclass(frozen=True)
class PdfParagraph:
    """A paragraph placed in the book's text: its offset, page number, lines and text."""

    offset: int
    page: int
    lines: tuple[PdfLine, ...]
    text: str


def body_size(paragraphs: list[PdfParagraph]) -> float:
    """The type size carrying the most characters: the book's body text."""
    weights: Counter[float] = Counter()
    for paragraph in paragraphs:
        for line in paragraph.lines:
            weights[round(line.size * 2) / 2] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def derive_toc(
    paragraphs: list[PdfParagraph], pages: list[PageSpan], max_entries: int, warnings: list[str]
) -> list[TocEntry]:
    """ToC entries for the headings found by the rule in this module's docstring."""
    body = body_size(paragraphs)
    display = _display_pages(paragraphs, body)
    candidates = [p for p in paragraphs if p.page not in display and _is_heading(p, body)]
    if candidates:
        largest = max(_size(p) for p in candidates)
        top = [p for p in candidates if _size(p) == largest]
        if all(p.page == 1 for p in top) and any(_size(p) < largest for p in candidates):
            candidates = [p for p in candidates if _size(p) < largest]
    if len(candidates) > max(200, 3 * len(pages)):
        warnings.append(f"no outline; {len(candidates)} heading-like lines is too many to trust")
        return []
    if not candidates:
        warnings.append("no outline and no headings found; the ToC is empty")
        return []
    sizes = sorted({_size(p) for p in candidates}, reverse=True)
    entries = []
    for paragraph in candidates[:max_entries]:
        numbered = _NUMBERED.match(paragraph.text)
        if numbered and numbered["number"]:
            level = numbered["number"].count(".") + 1
        elif numbered:
            level = 1
        else:
            level = sizes.index(_size(paragraph)) + 1
        page = pages[paragraph.page - 1]
        entries.append(
            TocEntry(
                min(level, 6),
                clean_title(paragraph.text),
                paragraph.offset,
                page.number,
                page.label,
            )
        )
    warnings.append("no outline; ToC derived from heading type size and numbering")
    return entries


def _display_pages(paragraphs: list[PdfParagraph], body: float) -> set[int]:
    """Pages set mostly in large type (covers, title pages): their lines are not headings."""
    large: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for paragraph in paragraphs:
        for line in paragraph.lines:
            total[paragraph.page] += len(line.text)
            if line.size >= _SIZE_STEP * body:
                large[paragraph.page] += len(line.text)
    return {page for page, chars in total.items() if large[page] > 0.5 * chars}


def _is_heading(paragraph: PdfParagraph, body: float) -> bool:
    text = paragraph.text
    if len(paragraph.lines) > 2 or len(text) > _MAX_HEADING_CHARS or not text[:1].isalnum():
        return False
    if text[:1].islower() or _SENTENCE_END.search(text) or _LEADERS.search(text):
        return False
    if not any(ch.isalpha() for ch in text):
        return False
    size = _size(paragraph)
    if size >= _SIZE_STEP * body:
        return True
    bold = all(line.bold for line in paragraph.lines)
    return bold and size >= 0.85 * body and bool(_NUMBERED.match(text))


def _size(paragraph: PdfParagraph) -> float:
    return round(max(line.size for line in paragraph.lines) * 2) / 2
