"""The MCP tools: read-only questions to the library, answered from the index and the ToC graph.

Each tool is a method of `LibraryTools`; its docstring is the description an assistant reads to
choose it, and its parameters' annotations are the input schema. Failures the caller can act
on (an unknown book, a bad filter, Neo4j down) are `ToolError`s carrying the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Annotated, Literal

import anyio.to_thread
import apsw
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from hbi.api.graph_gate import GraphGate, GraphUnavailableError
from hbi.api.health import library_health
from hbi.api.limits import MAX_ID_CHARS, MAX_OFFSET, MAX_QUERY_CHARS
from hbi.graph.queries import reading_order
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.mcp.results import (
    BookList,
    BookSummary,
    CitedSection,
    Hit,
    IndexTerm,
    IndexTerms,
    LibraryStatus,
    Pages,
    Passage,
    PassageInContext,
    SearchPage,
    Toc,
    TocEntry,
)
from hbi.search.models import SearchError, SearchFilters, SearchHit, SearchResult
from hbi.search.service import Neo4jSettings, graph_queries, search_from_env

MAX_HITS = 50
# A page range is applied to ranked hits, not inside the search: this many are read at a time,
# and at most PAGE_SCAN_LIMIT past the offset per call (then next_offset resumes the scan).
PAGE_SCAN_BATCH = 100
PAGE_SCAN_LIMIT = 1_000
MAX_AROUND = 5
# About 5,000 tokens: room for a few pages of a book in an assistant's context.
MAX_PAGES_CHARS = 20_000
MAX_TOC_ENTRIES = 500
MAX_LIST = 200

BookId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, description="A book id")]
Offset = Annotated[
    int, Field(ge=0, le=MAX_OFFSET, description="Where to start: a previous next_offset")
]
BookIds = Annotated[
    list[BookId] | None,
    Field(max_length=50, description="Only these books (ids from list_books); omit for all"),
]


class LibraryTools:
    """The tools over this HBI_HOME's index; graph reads go through `graph` (its breaker)."""

    def __init__(self, graph: GraphGate, log_search: Callable[[SearchResult], None]) -> None:
        self._graph = graph
        self._log_search = log_search

    async def search(
        self,
        query: Annotated[
            str,
            Field(min_length=1, max_length=MAX_QUERY_CHARS, description="Words or a sentence"),
        ],
        mode: Annotated[
            Literal["hybrid", "lexical", "semantic"],
            Field(description="hybrid: words and meaning fused; lexical: BM25; semantic: vectors"),
        ] = "hybrid",
        k: Annotated[int, Field(ge=1, le=MAX_HITS, description="Hits to return")] = 10,
        book_ids: BookIds = None,
        section_id: Annotated[
            str | None,
            Field(
                max_length=MAX_ID_CHARS,
                description="Only inside this ToC section and its subsections (from get_toc)",
            ),
        ] = None,
        page_from: Annotated[
            int | None, Field(ge=1, description="Only passages ending on or after this page")
        ] = None,
        page_to: Annotated[
            int | None, Field(ge=1, description="Only passages starting on or before this page")
        ] = None,
        offset: Offset = 0,
    ) -> SearchPage:
        """Search the full text of every book in the library for passages that answer a query.

        Returns the best passages first, each with its book, authors, chapter path
        (section_path), page and printed page label, a snippet and its chunk_id (read the whole
        passage with get_passage). Use it to find where a book says something, or which books
        discuss a subject. Narrow it to some books, to one ToC section, or to a page range
        (paged books, i.e. PDFs, only).
        """
        if page_from is not None and page_to is not None and page_from > page_to:
            raise ToolError(f"page_from {page_from} is after page_to {page_to}")
        if book_ids:
            with _index() as connection:
                self._require_books(connection, book_ids)
        filters = SearchFilters(book_ids=tuple(book_ids or ()), section_id=section_id)

        def run(k: int, at: int) -> SearchResult:
            result = search_from_env().search(query, mode=mode, k=k, offset=at, filters=filters)
            if at == offset:  # a page range's further batches are the same search
                self._log_search(result)
            return result

        async def ranked(k: int, at: int) -> list[SearchHit]:
            try:
                if section_id is not None:
                    # The section's subtree is read from Neo4j.
                    result = await self._graph.call(run, k, at)
                else:
                    result = await anyio.to_thread.run_sync(run, k, at)
            except (SearchError, GraphUnavailableError) as exc:
                raise ToolError(str(exc)) from exc
            return result.hits

        if page_from is None and page_to is None:
            # One more than asked, to know whether there is a next page.
            hits = await ranked(k + 1, offset)
            more = len(hits) > k
            return _search_page(query, mode, hits[:k], offset + k if more else None)
        low, high = page_from or 1, page_to or 2**31
        found: list[SearchHit] = []
        at, exhausted = offset, False
        while len(found) <= k and not exhausted and at < offset + PAGE_SCAN_LIMIT:
            batch = await ranked(PAGE_SCAN_BATCH, at)
            found += [hit for hit in batch if _on_pages(hit, low, high)]
            at += len(batch)
            exhausted = len(batch) < PAGE_SCAN_BATCH
        next_offset = None if exhausted else at
        if len(found) > k:
            next_offset = found[k].rank - 1
        return _search_page(query, mode, found[:k], next_offset)

    def list_books(
        self,
        offset: Offset = 0,
        limit: Annotated[int, Field(ge=1, le=MAX_LIST, description="Books to return")] = 50,
    ) -> BookList:
        """List the books in the library: id, title, authors, format, pages, passages, status.

        Use the book ids with search (book_ids), get_toc, get_pages and lookup_index_term.
        """
        with _index() as connection:
            rows = reads.book_summaries(connection)
        page = rows[offset : offset + limit]
        return BookList(
            books=[BookSummary(**row) for row in page],
            total=len(rows),
            next_offset=offset + limit if offset + limit < len(rows) else None,
        )

    async def get_toc(
        self,
        book_id: BookId,
        offset: Offset = 0,
        limit: Annotated[
            int, Field(ge=1, le=MAX_TOC_ENTRIES, description="Entries to return")
        ] = MAX_TOC_ENTRIES,
    ) -> Toc:
        """Give a book's table of contents, as the book itself defines it, in reading order.

        Each entry has its level (1 = chapter), title, page, printed page label and section_id;
        pass a section_id to search to look only inside that part of the book.
        """
        with _index() as connection:
            book = self._require_books(connection, [book_id])[0]
        settings = Neo4jSettings.from_env()
        if settings is None:
            raise ToolError("the ToC graph (Neo4j) is not configured")
        try:
            outline = await self._graph.call(graph_queries(settings).outline, book_id)
        except GraphUnavailableError as exc:
            raise ToolError(str(exc)) from exc
        entries = reading_order(outline["sections"]) if outline else []
        page = entries[offset : offset + limit]
        return Toc(
            book_id=book_id,
            title=book["title"],
            entries=[
                TocEntry(**{field: e[field] for field in TocEntry.model_fields}) for e in page
            ],
            total=len(entries),
            next_offset=offset + limit if offset + limit < len(entries) else None,
        )

    def get_passage(
        self,
        chunk_id: Annotated[int, Field(ge=0, description="A passage's chunk_id from search")],
        around: Annotated[
            int,
            Field(ge=0, le=MAX_AROUND, description="Neighbouring passages to add on each side"),
        ] = 1,
    ) -> PassageInContext:
        """Read a whole passage (by the chunk_id a search hit gave) with the passages around it.

        Use it to read more than a search snippet: the passage's full text and up to 5 passages
        before and after it in the book, each with its chapter path and pages.
        """
        with _index() as connection:
            row = reads.chunk(connection, chunk_id)
            if row is None:
                raise ToolError(f"{chunk_id}: no such passage in the index")
            before, after = reads.chunks_around(connection, chunk_id, around, around)
        return PassageInContext(
            **_passage(row).model_dump(),
            title=row["title"],
            before=[_passage(r) for r in before],
            after=[_passage(r) for r in after],
        )

    def get_pages(
        self,
        book_id: BookId,
        first_page: Annotated[int, Field(ge=1, description="1-based physical page")],
        last_page: Annotated[int, Field(ge=1, description="1-based physical page, inclusive")],
        offset: Annotated[
            int, Field(ge=0, description="Passages to skip: a previous next_offset")
        ] = 0,
    ) -> Pages:
        """Read a paged book (PDF) from first_page to last_page, as the passages on those pages.

        At most about 20,000 characters come back per call: when next_offset is set, call again
        with the same pages and offset=next_offset for the rest. Books without pages (EPUB, text,
        Markdown) have none: read them with search and get_passage.
        """
        if first_page > last_page:
            raise ToolError(f"first_page {first_page} is after last_page {last_page}")
        with _index() as connection:
            book = self._require_books(connection, [book_id])[0]
            if not book["page_count"]:
                raise ToolError(f"{book_id}: a {book['format']} book has no pages")
            if first_page > book["page_count"]:
                raise ToolError(f"{book_id} has {book['page_count']} pages, not {first_page}")
            rows = reads.chunks_on_pages(connection, book_id, first_page, last_page)
        passages: list[Passage] = []
        used = 0
        for row in rows[offset:]:
            # Always one passage, so a call makes progress even past the budget.
            if passages and used + len(row["text"]) > MAX_PAGES_CHARS:
                break
            passages.append(_passage(row))
            used += len(row["text"])
        end = offset + len(passages)
        return Pages(
            book_id=book_id,
            title=book["title"],
            first_page=first_page,
            last_page=min(last_page, book["page_count"]),
            page_count=book["page_count"],
            passages=passages,
            next_offset=end if end < len(rows) else None,
        )

    def lookup_index_term(
        self,
        term: Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_QUERY_CHARS,
                description="A term, or the start of terms, as a book's index prints it",
            ),
        ],
        book_ids: BookIds = None,
        exact: Annotated[
            bool, Field(description="Only this whole term; by default terms starting with it")
        ] = False,
        offset: Offset = 0,
        limit: Annotated[int, Field(ge=1, le=MAX_LIST, description="Entries to return")] = 20,
    ) -> IndexTerms:
        """Look a term up in the books' own back-of-book indexes (where a book has one).

        Gives each matching index entry with its book, the headings it sits under, the page
        references as printed, and the ToC sections they fall in. Case is ignored. Use it for
        where a book itself says a subject is treated; use search for the text.
        """
        with _index() as connection:
            if book_ids:
                self._require_books(connection, book_ids)
            rows, total = reads.index_terms(
                connection,
                book_ids=book_ids or None,
                term=term if exact else None,
                prefix=None if exact else term,
                limit=limit,
                offset=offset,
            )
        terms = [
            IndexTerm(
                book_id=row["book_id"],
                title=row["title"],
                term=row["term"],
                parents=row["parents"],
                pages=row["pages"],
                sections=[CitedSection(**section) for section in row["sections"]],
            )
            for row in rows
        ]
        return IndexTerms(
            terms=terms,
            total=total,
            next_offset=offset + len(rows) if offset + len(rows) < total else None,
        )

    def status(self) -> LibraryStatus:
        """Say how big the library is (books, passages, vectors) and whether its stores answer.

        Use it when searches come back empty or fail, to tell an empty library from a broken one.
        """
        health = library_health()
        with _index() as connection:
            books = reads.book_summaries(connection)
            vectors = sum(reads.vector_counts(connection).values())
        return LibraryStatus(
            books=len(books),
            ready_books=sum(book["status"] == "ready" for book in books),
            chunks=sum(book["chunks"] for book in books),
            vectors=vectors,
            ok=health["ok"],
            checks=health["checks"],
        )

    @staticmethod
    def _require_books(connection: apsw.Connection, book_ids: list[str]) -> list[dict]:
        """Return the books' rows; a ToolError names the ids that are not in the index."""
        rows = {book_id: reads.book(connection, book_id) for book_id in book_ids}
        unknown = [book_id for book_id, row in rows.items() if row is None]
        if unknown:
            raise ToolError(
                f"no such book in the index: {', '.join(unknown)} (list_books gives the ids)"
            )
        return [rows[book_id] for book_id in book_ids]


@contextmanager
def _index() -> Iterator[apsw.Connection]:
    with closing(connect(default_index_path())) as connection:
        yield connection


def _on_pages(hit: SearchHit, low: int, high: int) -> bool:
    if hit.page_start is None:
        return False
    return hit.page_start <= high and (hit.page_end or hit.page_start) >= low


def _search_page(
    query: str, mode: str, hits: list[SearchHit], next_offset: int | None
) -> SearchPage:
    return SearchPage(
        query=query,
        mode=mode,
        hits=[
            Hit(
                rank=hit.rank,
                book_id=hit.book_id,
                title=hit.title,
                authors=hit.authors,
                section_path=hit.section_path,
                section_id=hit.section_id,
                page=hit.page_start,
                page_end=hit.page_end,
                page_label=hit.page_label,
                snippet=hit.snippet,
                chunk_id=hit.chunk_id,
                score=hit.score,
                ocr=hit.ocr,
            )
            for hit in hits
        ],
        next_offset=next_offset,
    )


def _passage(row: dict) -> Passage:
    return Passage(
        chunk_id=row["chunk_id"],
        book_id=row["book_id"],
        section_id=row["section_id"],
        section_path=row["section_path"],
        page=row["page_start"],
        page_end=row["page_end"],
        page_label=row["page_label"],
        text=row["text"],
    )
