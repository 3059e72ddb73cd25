"""A PDF's outline (bookmarks) as ToC entries, walked defensively and located in the text.

The walk is bounded: each bookmark is visited once (outlines with cycles exist), depth and
entry count are capped, and entries without a destination or pointing past the last page are
dropped with a warning. Each entry's offset is where its title appears on its target page
(compared on letters and digits only, so spacing and dashes don't matter), else where a
paragraph starts with its section number ("2.6.1"), else the start of the page.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from hbi.books.book import PageSpan, TocEntry
from hbi.extract.book_text import PARAGRAPH_BREAK, clean_title
from hbi.extract.limits import ExtractLimits

_SECTION_NUMBER = re.compile(r"^((?:\d+|[A-Z])(?:\.\d+)+|\d+)\s")


@dataclass(frozen=True)
class OutlineItem:
    """A bookmark: nesting level (1 = top), title and 0-based target page index."""

    level: int
    title: str
    page_index: int


def read_outline(
    pdf: pdfium.PdfDocument, page_count: int, limits: ExtractLimits, warnings: list[str]
) -> list[OutlineItem]:
    """The document's bookmarks in outline order, with unusable ones dropped."""
    items: list[OutlineItem] = []
    seen: set[int] = set()
    problems = {"cycle": 0, "no target": 0, "past the last page": 0, "too deep": 0}

    def walk(parent: pdfium_c.FPDF_BOOKMARK | None, level: int) -> None:
        bookmark = pdfium_c.FPDFBookmark_GetFirstChild(pdf, parent)
        while bookmark and len(items) < limits.max_toc_entries:
            address = ctypes.addressof(bookmark.contents)
            if address in seen:
                problems["cycle"] += 1
                return
            seen.add(address)
            if level > limits.max_toc_depth:
                problems["too deep"] += 1
                return
            _append(pdf, bookmark, level, page_count, items, problems)
            walk(bookmark, level + 1)
            bookmark = pdfium_c.FPDFBookmark_GetNextSibling(pdf, bookmark)

    walk(None, 1)
    for problem, count in problems.items():
        if count:
            warnings.append(f"outline: {count} bookmark(s) dropped ({problem})")
    if len(items) >= limits.max_toc_entries:
        warnings.append(f"outline truncated at {limits.max_toc_entries:,} entries")
    return items


def _append(
    pdf: pdfium.PdfDocument,
    bookmark: pdfium_c.FPDF_BOOKMARK,
    level: int,
    page_count: int,
    items: list[OutlineItem],
    problems: dict[str, int],
) -> None:
    wrapped = pdfium.PdfBookmark(bookmark, pdf, level - 1)
    title = clean_title(wrapped.get_title())
    destination = wrapped.get_dest()
    index = destination.get_index() if destination is not None else None
    if index is None:
        problems["no target"] += 1
    elif index >= page_count:
        problems["past the last page"] += 1
    elif title:
        items.append(OutlineItem(level, title, index))


def locate_outline(
    items: list[OutlineItem], text: str, pages: list[PageSpan], warnings: list[str]
) -> list[TocEntry]:
    """ToC entries whose offsets point at each bookmark's title on its target page."""
    entries: list[TocEntry] = []
    squeezed_pages: dict[int, _SqueezedText] = {}
    unplaced = 0
    for item in items:
        page = pages[item.page_index]
        if page.number not in squeezed_pages:
            squeezed_pages[page.number] = _SqueezedText(text, page.start, page.end)
        previous = entries[-1] if entries else None
        floor = previous.offset if previous and previous.page == page.number else page.start
        offset = squeezed_pages[page.number].find_heading(floor, item.title)
        if offset is None:
            unplaced += 1
            offset = floor
        entries.append(TocEntry(item.level, item.title, offset, page.number, page.label))
    if unplaced:
        warnings.append(f"outline: {unplaced} title(s) not found on their page; placed at its top")
    return entries


class _SqueezedText:
    """A slice of the text reduced to lowercased letters and digits, mapped back to offsets."""

    # Candidate matches examined per search: bounds the work on pathological pages.
    MAX_CANDIDATES = 200

    def __init__(self, text: str, start: int, end: int):
        self.text = text
        self.positions = [i for i in range(start, end) if text[i].isalnum()]
        self.squeezed = "".join(_fold_char(text[i]) for i in self.positions)

    def find_heading(self, floor: int, title: str) -> int | None:
        """Where `title` occurs at or after `floor`, preferring the start of a paragraph."""
        found, opening = self._occurrences(floor, _fold(title))
        if found:
            return (opening or found)[0]
        number = _SECTION_NUMBER.match(title)
        if number:
            # A section number alone also turns up in cross-references; only trust it at the
            # start of a paragraph.
            _, opening = self._occurrences(floor, _fold(number[1]))
            if opening:
                return opening[0]
        return None

    def _occurrences(self, floor: int, key: str) -> tuple[list[int], list[int]]:
        """Matches that begin and end on word boundaries, and those that open a paragraph."""
        text, positions = self.text, self.positions
        found: list[int] = []
        at = self.squeezed.find(key, bisect.bisect_left(positions, floor)) if key else -1
        for _ in range(self.MAX_CANDIDATES):
            if at < 0:
                break
            first, after = positions[at], positions[at + len(key) - 1] + 1
            if not text[first - 1 : first].isalnum() and not text[after : after + 1].isalnum():
                found.append(first)
            at = self.squeezed.find(key, at + 1)
        opening = [o for o in found if o == floor or text.startswith(PARAGRAPH_BREAK, o - 2)]
        return found, opening


def _fold(value: str) -> str:
    """Letters and digits only, lowercased one character to one character."""
    return "".join(_fold_char(ch) for ch in value if ch.isalnum())


def _fold_char(ch: str) -> str:
    lower = ch.lower()
    return lower if len(lower) == 1 else ch
