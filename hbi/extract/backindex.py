"""Parsing a printed back-of-book index ("term, 12, 45–47") into IndexTerm entries.

Each format finds its index section and hands over its lines with their indentation (spaces in
text, points from the column's left edge in a PDF). Sub-entries are recognised two ways:
indented under their main entry, or written after it with a comma ("blockchain, permissioned,
16") when the part before the comma is a main entry already seen; otherwise a comma stays part
of the term ("Lamport, Leslie, 13"). A line holding only page numbers continues the entry above.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from hbi.books.book import IndexTerm

INDEX_TITLE = re.compile(r"^(?:general\s+|subject\s+)?index\.?$", re.IGNORECASE)

# A page reference: arabic or lowercase roman, optionally a range and a suffix such as "n"
# (note) or "f" (figure). Uppercase roman is left to terms ("World War II").
_PAGE = r"(?:\d{1,5}|[ivxlcdm]{1,7})(?:\s*[-–—]\s*(?:\d{1,5}|[ivxlcdm]{1,7}))?[nf]?"
_PAGE_RE = re.compile(rf"^{_PAGE}$")
_TRAILING_PAGE_RE = re.compile(rf"^(?P<head>.*?\S)\s+(?P<page>{_PAGE})$")
_RANGE_DASH = re.compile(r"\s*[-–—]\s*")
# Neither starts inside a run of whitespace (`_NOT_MID_SPACE`): tried at every space of a long
# run, each would rescan the rest of it, in time quadratic in the run's length.
_NOT_MID_SPACE = r"(?:(?<!\s)|(?!\s))"
_CROSS_REF = re.compile(rf"{_NOT_MID_SPACE}[.;,]?\s*+\(?\bsee(?:\s+also)?\b.*$", re.IGNORECASE)
_LEADERS = re.compile(rf"{_NOT_MID_SPACE}(?:\s*+\.){{2,}}\s*|…+")
# Letter-group headings ("A", "B —") between blocks of entries.
_GROUP_HEADING = re.compile(r"^[A-Z]\W*$")


@dataclass(frozen=True)
class IndexLine:
    """One printed line of an index and how far it is indented (any unit, bigger = deeper)."""

    indent: float
    text: str


def parse_index_lines(lines: Iterable[IndexLine]) -> list[IndexTerm]:
    """The index entries found in the lines, in printed order, each with its parent terms."""
    terms: list[IndexTerm] = []
    main_terms: set[str] = set()
    # (indent, term) of the entries the next line may be a sub-entry of, outermost first.
    stack: list[tuple[float, str]] = []
    for line in lines:
        text = _LEADERS.sub(" ", line.text).strip()
        if not text or _GROUP_HEADING.match(text) or INDEX_TITLE.match(text):
            continue
        head, pages = _split_pages(_CROSS_REF.sub("", text).strip(" ,;"))
        if not head:
            if pages and terms:
                last = terms[-1]
                terms[-1] = IndexTerm(last.term, last.parents, last.pages + pages)
            continue
        while stack and stack[-1][0] >= line.indent - 0.5:
            stack.pop()
        parents = tuple(term for _, term in stack)
        parts = [part.strip() for part in head.split(",")]
        if not parents and len(parts) > 1 and parts[0].casefold() in main_terms:
            parents, term = tuple(parts[:-1]), parts[-1]
        else:
            term = head
        if not parents:
            main_terms.add(term.casefold())
        stack.append((line.indent, term))
        if pages:
            terms.append(IndexTerm(term, parents, pages))
    return terms


def indents_from_columns(xs: list[float], column_gap: float = 60.0) -> list[float]:
    """Indents for PDF lines at left positions `xs`, measured within their own column.

    A line's column starts at the leftmost line start less than `column_gap` to its left, so
    sub-entries are indented relative to main entries in the same column, whichever column.
    """
    edges = sorted({round(x, 1) for x in xs})
    indents = []
    for x in xs:
        base = next((edge for edge in edges if x - column_gap < edge <= x + 0.05), x)
        indents.append(round(x - base, 1))
    return indents


def _split_pages(text: str) -> tuple[str, tuple[str, ...]]:
    """The term part of an entry and the page references at its end."""
    parts = [part.strip() for part in text.split(",")]
    pages: list[str] = []
    while parts and _PAGE_RE.match(parts[-1]) and (len(parts) > 1 or not _has_letters(parts)):
        pages.append(_RANGE_DASH.sub("–", parts.pop()))
    if parts:
        match = _TRAILING_PAGE_RE.match(parts[-1])
        if match and _has_letters([match["head"]]):
            parts[-1] = match["head"]
            pages.append(_RANGE_DASH.sub("–", match["page"]))
    head = ", ".join(part for part in parts if part)
    return head, tuple(reversed(pages))


def _has_letters(parts: list[str]) -> bool:
    return any(ch.isalpha() for part in parts for ch in part)
