"""The query resource: hybrid search over the index, and the questions the ToC graph answers.

`SearchResource` is a Dagster resource and a plain Python object alike (`SearchResource()` works
outside Dagster, with the index of HBI_HOME and no graph). The work is done by the process's
`hbi.search.LibrarySearch` for this configuration, which `hbi.search.service` keeps.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from hbi.graph.queries import GraphQueries
from hbi.index.db import default_index_path
from hbi.search import LibrarySearch, SearchFilters, SearchMode, SearchResult, SearchSettings
from hbi.search.bm25 import ColumnWeights
from hbi.search.lexical import FIRST_BUDGET, SECOND_BUDGET
from hbi.search.models import DEFAULT_RESCORE, EXACT_BELOW, SearchError
from hbi.search.query_log import QueryLog
from hbi.search.service import Neo4jSettings, graph_queries, graph_subtree, shared_search
from hbi_resources.embedder import EmbedderResource
from hbi_resources.graph import GraphResource


class SearchResource(dg.ConfigurableResource):
    """Answers queries in lexical, semantic or hybrid mode; reads outlines and index terms."""

    index_path: str | None = Field(
        default=None, description="Index file; default HBI_INDEX_PATH or HBI_HOME/index/hbi.sqlite"
    )
    embedder: EmbedderResource | None = Field(
        default=None, description="The query embedding model (default: EmbedderResource())"
    )
    graph: GraphResource | None = Field(
        default=None, description="Neo4j, for the section filter and the graph queries"
    )
    rrf_k: float = Field(default=60.0, description="RRF constant: weight / (rrf_k + rank)")
    lexical_weight: float = Field(default=1.0, description="RRF weight of the BM25 list")
    semantic_weight: float = Field(default=1.0, description="RRF weight of the vector list")
    candidates: int = Field(default=50, description="Depth of each list before fusion")
    text_weight: float = Field(default=1.0, description="BM25 weight of passage text")
    section_weight: float = Field(default=4.0, description="BM25 weight of the section path")
    title_weight: float = Field(default=2.0, description="BM25 weight of the book title")
    common_term_budget: int = Field(
        default=FIRST_BUDGET, description="Postings FTS5 scores before deferring common words"
    )
    second_pass_budget: int = Field(
        default=SECOND_BUDGET, description="Postings allowed when a first pass is not exact"
    )
    vector_exact_below: int = Field(
        default=EXACT_BELOW, description="Below this many vectors, scan them all exactly"
    )
    vector_rescore: int = Field(
        default=DEFAULT_RESCORE, description="Candidates the bit-code stage keeps for re-scoring"
    )
    vector_refresh_s: float = Field(
        default=5.0, description="Least seconds between vector reloads while the index changes"
    )
    query_log_path: str | None = Field(
        default=None, description="DuckDB file that logs every search (None: no log)"
    )
    log_source: str = Field(default="dagster", description="Who searches, as the log records it")

    @classmethod
    def from_env(cls, **overrides) -> SearchResource:
        """Return the resource with the graph from HBI's environment when it is configured."""
        try:
            graph = GraphResource.from_env()
        except KeyError:
            graph = None
        return cls(graph=graph, **overrides)

    # --- what callers use ------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: SearchMode = "hybrid",
        k: int = 10,
        offset: int = 0,
        book_ids: list[str] | tuple[str, ...] = (),
        authors: list[str] | tuple[str, ...] = (),
        formats: list[str] | tuple[str, ...] = (),
        section_id: str | None = None,
        explain: bool = False,
        collapse_books: bool = False,
        context: bool = False,
    ) -> SearchResult:
        """Return a page of passages answering query (see `LibrarySearch.search`), and log it.

        Filters: any of `book_ids`, any of `authors` (case-insensitive substring), any of
        `formats`, and only inside the ToC subtree of `section_id` (needs the graph).
        """
        filters = SearchFilters(
            book_ids=tuple(book_ids),
            authors=tuple(authors),
            formats=tuple(formats),
            section_id=section_id,
        )
        result = self.searcher().search(
            query,
            mode=mode,
            k=k,
            offset=offset,
            filters=filters,
            explain=explain,
            collapse_books=collapse_books,
            context=context,
        )
        log = self.query_log()
        if log is not None:
            log.record(result, self.log_source)
        return result

    def outline(self, book_id: str) -> dict | None:
        """Return the book's ToC as a tree of sections, or None if the graph lacks the book."""
        return self.graph_queries().outline(book_id)

    def sections_matching(self, term: str, limit: int = 100) -> list[dict]:
        """Return the sections of all books whose title or back-of-book index terms hold term."""
        return self.graph_queries().sections_matching(term, limit)

    def term_occurrences(self, term: str) -> list[dict]:
        """Return where a back-of-book index term occurs across the library."""
        return self.graph_queries().term_occurrences(term)

    def neighbours(self, book_id: str, ordinal: int) -> dict:
        """Return the passages just before and after a book's passage `ordinal`."""
        return self.searcher().store.neighbours(book_id, ordinal)

    # --- the shared machinery --------------------------------------------------------------

    def settings(self) -> SearchSettings:
        """Return the ranking settings this resource is configured with."""
        return SearchSettings(
            rrf_k=self.rrf_k,
            lexical_weight=self.lexical_weight,
            semantic_weight=self.semantic_weight,
            candidates=self.candidates,
            column_weights=ColumnWeights(self.text_weight, self.section_weight, self.title_weight),
            common_term_budget=self.common_term_budget,
            second_pass_budget=self.second_pass_budget,
            vector_exact_below=self.vector_exact_below,
            vector_rescore=self.vector_rescore,
            vector_refresh_s=self.vector_refresh_s,
        )

    def searcher(self) -> LibrarySearch:
        """Return this process's LibrarySearch for this configuration (created once)."""
        embedder = self.embedder or EmbedderResource()
        graph = self._graph_settings()
        return shared_search(
            self.index_path or default_index_path(),
            self.settings(),
            lambda texts: embedder.model().embed(texts, batch_size=1),
            subtree=graph_subtree(graph, self.graph.driver) if graph is not None else None,
            key=(embedder.cache_dir, embedder.threads, graph),
        )

    def graph_queries(self) -> GraphQueries:
        """Return this process's graph reader for the configured Neo4j."""
        graph = self._graph_settings()
        if graph is None:
            raise SearchError("graph queries need the ToC graph: configure `graph` (Neo4j)")
        return graph_queries(graph, self.graph.driver)

    def query_log(self) -> QueryLog | None:
        """Return the query log, if one is configured."""
        return QueryLog(self.query_log_path) if self.query_log_path else None

    def _graph_settings(self) -> Neo4jSettings | None:
        if self.graph is None:
            return None
        return Neo4jSettings(
            self.graph.uri, self.graph.user, self.graph.password, self.graph.database
        )
