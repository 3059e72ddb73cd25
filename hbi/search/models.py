"""What a search takes and gives: filters, hits placed in their books, and the result page."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

SearchMode = Literal["lexical", "semantic", "hybrid"]
MODES: tuple[SearchMode, ...] = ("lexical", "semantic", "hybrid")

# How vectors.py searches the vectors: exactly below EXACT_BELOW of them, otherwise through bit
# codes that keep DEFAULT_RESCORE candidates for float re-scoring. Kept here, away from numpy,
# so that settings and lexical searches load without it (numpy is a third of a CLI search).
EXACT_BELOW = 30_000
DEFAULT_RESCORE = 1_000


class SearchError(ValueError):
    """A search request that cannot be answered as asked (bad mode, unknown section, ...)."""


class SectionNotFoundError(SearchError):
    """The section id given as a ToC-subtree filter is not in the graph."""

    def __init__(self, section_id: str):
        super().__init__(f"{section_id}: no such section in the ToC graph")
        self.section_id = section_id


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search to some books, authors, formats or one ToC subtree.

    Within one field the values are alternatives (any book id, any author); fields combine
    with AND. Authors match case-insensitively as substrings of a book's author names.
    """

    book_ids: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    section_id: str | None = None  # this section and all its subsections

    @property
    def empty(self) -> bool:
        return not (self.book_ids or self.authors or self.formats or self.section_id)

    def as_dict(self) -> dict:
        """Return the filters that are set, as JSON-ready values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class ListRank:
    """A hit's place in one ranked list: its 1-based rank and that list's score."""

    rank: int
    score: float


@dataclass
class SearchHit:
    """One passage that answers the query, with where it sits in its book."""

    rank: int
    book_id: str
    title: str
    authors: list[str]
    section_path: list[str]
    section_id: str | None
    page_start: int | None
    page_end: int | None
    page_label: str | None
    chunk_id: int
    snippet: str
    score: float
    ocr: bool = False  # the passage is on a page whose text came from OCR
    explain: dict | None = None
    context: dict | None = None

    def as_dict(self) -> dict:
        """Return the hit in the JSON shape of `hbi search --json` (extras only when asked)."""
        shaped = asdict(self)
        for extra in ("explain", "context"):
            if shaped[extra] is None:
                del shaped[extra]
        return shaped


@dataclass
class SearchResult:
    """A page of hits for a query, and how long it took."""

    query: str
    mode: SearchMode
    took_ms: float
    hits: list[SearchHit]
    filters: SearchFilters = field(default_factory=SearchFilters)
    k: int = 10
    offset: int = 0
    plan: dict = field(default_factory=dict)  # how each list was computed (explain)

    def as_dict(self, *, with_plan: bool = False) -> dict:
        """Return {"query", "mode", "took_ms", "hits": [...]} (plus "plan" when asked)."""
        payload = {
            "query": self.query,
            "mode": self.mode,
            "took_ms": self.took_ms,
            "hits": [hit.as_dict() for hit in self.hits],
        }
        if with_plan:
            payload["plan"] = self.plan
        return payload
