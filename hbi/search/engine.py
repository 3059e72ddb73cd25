"""Library search without Dagster: lexical, semantic and hybrid lists, fused, placed in books.

`LibrarySearch` composes the pieces of this package over one index file: the FTS5 list
(`lexical`), the in-memory vector list (`semantic`), reciprocal rank fusion (`fusion`) and
snippets. The two lists of a hybrid search run in parallel: SQLite, NumPy and ONNX Runtime
release the GIL, so on two cores the slower leg sets the latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hbi.index.search import IndexStore, Scope
from hbi.index.unsegmented import unsegmented_runs
from hbi.search.bm25 import IDF_FLOOR, ColumnWeights
from hbi.search.fts_query import ParsedQuery, clean_query_text, parse_query
from hbi.search.fusion import (
    DEFAULT_RRF_K,
    BookList,
    FusedItem,
    best_per_book,
    reciprocal_rank_fusion,
    single_list,
)
from hbi.search.lexical import FIRST_BUDGET, SECOND_BUDGET, LexicalPlan, LexicalSearch
from hbi.search.models import (
    DEFAULT_RESCORE,
    EXACT_BELOW,
    MODES,
    ListRank,
    SearchError,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchResult,
)
from hbi.search.scripts import LEXICAL_ONLY_REASON, model_reads
from hbi.search.semantic import (
    Embed,
    QueryEmbeddings,
    VectorCache,
    semantic_by_book,
    semantic_ranked,
)
from hbi.search.snippets import DEFAULT_MARKS, DEFAULT_WIDTH, HighlightTerms, make_snippet
from hbi.search.tokens import Fts5Tokens

if TYPE_CHECKING:
    import numpy as np

    from hbi.search.vectors import VectorSearchInfo

MAX_K = 1_000
SubtreeResolver = Callable[[str], list[str]]


# A plain query at least this long that a passage holds verbatim is treated as a quotation.
EXACT_PHRASE_WORDS = 8


@dataclass(frozen=True)
class SearchSettings:
    """How searches rank and how hard they work; every field has a working default."""

    rrf_k: float = DEFAULT_RRF_K
    lexical_weight: float = 1.0
    semantic_weight: float = 1.0
    candidates: int = 50  # depth of each list before fusion
    column_weights: ColumnWeights = field(default_factory=ColumnWeights)
    plan_common_terms: bool = True
    common_term_budget: int = FIRST_BUDGET
    second_pass_budget: int = SECOND_BUDGET
    vector_exact_below: int = EXACT_BELOW
    vector_rescore: int = DEFAULT_RESCORE
    vector_refresh_s: float = 5.0
    parallel: bool = True
    snippet_width: int = DEFAULT_WIDTH
    highlight: tuple[str, str] = DEFAULT_MARKS


@dataclass
class Ranking:
    """A fused (or single) ranking before hits are read: items best first, and the plan."""

    items: list[FusedItem]
    plan: dict
    lexical_plan: LexicalPlan | None = None
    version: int | None = None  # the index's data version the ranking read
    mode: SearchMode = "hybrid"
    by_sentence: frozenset[int] = frozenset()  # semantic hits won by a sentence vector


class LibrarySearch:
    """Answers queries over one HBI index file; create one per process and reuse it."""

    def __init__(
        self,
        index_path: str,
        *,
        embed: Embed | None = None,
        subtree: SubtreeResolver | None = None,
        settings: SearchSettings | None = None,
    ):
        self.settings = settings or SearchSettings()
        self.store = IndexStore(index_path)
        self.tokens = Fts5Tokens()
        self.lexical = LexicalSearch(
            self.store,
            self.tokens,
            self.settings.column_weights,
            budget=self.settings.common_term_budget,
            second_budget=self.settings.second_pass_budget,
        )
        self.vectors = VectorCache(self.store, self.settings.vector_refresh_s)
        self.embeddings = QueryEmbeddings(embed)
        self.subtree = subtree
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hbi-search")

    def close(self) -> None:
        """Stop the worker threads (connections close with them)."""
        self._pool.shutdown(wait=False)

    # --- the public entry point --------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        mode: SearchMode = "hybrid",
        k: int = 10,
        offset: int = 0,
        filters: SearchFilters | None = None,
        explain: bool = False,
        collapse_books: bool = False,
        context: bool = False,
        query_vector: np.ndarray | None = None,
        marks: tuple[str, str] | None = None,
    ) -> SearchResult:
        """Return a page of passages answering query, best first.

        `k` hits from `offset`; `collapse_books` gives each book's best passage only
        (`book_ranking`);
        `explain` adds each hit's rank and score in each list and the plan; `context` adds the
        previous and next passage; `query_vector` replaces embedding the query; `marks` replace
        the settings' highlight marks around snippet terms.
        """
        started = time.perf_counter()
        if mode not in MODES:
            raise SearchError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if not 1 <= k <= MAX_K:
            raise SearchError(f"k must be in 1..{MAX_K}, got {k}")
        if offset < 0:
            raise SearchError(f"offset must be >= 0, got {offset}")
        filters = filters or SearchFilters()
        marks = marks or self.settings.highlight
        parsed = parse_query(query, self.tokens.has_token)
        legs: SearchMode = "lexical" if mode == "hybrid" and not model_reads(query) else mode
        if collapse_books:
            ranking = self.book_ranking(parsed, query, legs, filters, query_vector)
        else:
            # Lists are read in blocks of `candidates`, so every page of a block comes from
            # the same fused ranking and consecutive pages never repeat or skip a hit.
            block = max(self.settings.candidates, 1)
            depth = block * -(-(offset + k) // block)
            ranking = self.ranking(parsed, query, legs, depth, filters, query_vector)
        if legs != mode:
            ranking.plan["fusion"] = {"method": "lexical only", "reason": LEXICAL_ONLY_REASON}
        page, known = self._page(ranking.items, k, offset)
        rows = self.store.hit_rows([item.item for item in page])
        terms = HighlightTerms.from_operands(
            parsed.highlight_terms,
            lambda text: self.tokens.tokens(text, query=True),
            unsegmented_runs,
        )
        idf = self.lexical.token_idf(sorted(terms.exact), ranking.version)
        if idf:
            # Mark the words that found the passage, not the "the"s around them.
            void = [token for token, value in idf.items() if value <= IDF_FLOOR]
            terms = replace(terms, weights=idf).without(void)
        hits = []
        for item in page:
            row = rows.get(item.item)
            if row is None:  # deleted since the book lookup
                continue
            rank = len(hits) + offset + 1
            hits.append(self._hit(rank, item, row, terms, ranking, explain, marks))
            if context:
                hits[-1].context = self.store.neighbours(row["book_id"], row["ordinal"])
        plan = {**ranking.plan, "candidates": known} if explain else {}
        return SearchResult(
            query=query,
            mode=mode,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
            hits=hits,
            filters=filters,
            k=k,
            offset=offset,
            plan=plan,
        )

    # --- rankings (also used by the evaluation and the benchmark) ----------------------------

    def ranking(
        self,
        parsed: ParsedQuery,
        query: str,
        mode: SearchMode,
        depth: int,
        filters: SearchFilters | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Ranking:
        """Return the fused (or single-list) ranking of a query, `depth` deep per list."""
        scope = self.scope(filters or SearchFilters())
        version = self.store.data_version()
        lexical_future = None
        lexical: list[tuple[int, float]] = []
        lexical_plan: LexicalPlan | None = None
        semantic: list[tuple[int, float]] = []
        semantic_info: VectorSearchInfo | None = None
        timings: dict[str, float] = {}

        def run_lexical() -> tuple[list[tuple[int, float]], LexicalPlan, float]:
            leg_started = time.perf_counter()
            found, plan = self.lexical.ranked(
                parsed,
                depth,
                scope,
                version=version,
                plan_common_terms=self.settings.plan_common_terms,
                informative_only=mode == "hybrid" and self.settings.plan_common_terms,
            )
            return found, plan, time.perf_counter() - leg_started

        if mode in ("lexical", "hybrid"):
            if self.settings.parallel and mode == "hybrid":
                lexical_future = self._pool.submit(run_lexical)
            else:
                lexical, lexical_plan, seconds = run_lexical()
                timings["lexical_ms"] = round(seconds * 1000, 2)
        if mode in ("semantic", "hybrid"):
            leg_started = time.perf_counter()
            semantic, semantic_info = self._semantic(
                parsed, query, depth, scope, version, query_vector
            )
            timings["semantic_ms"] = round((time.perf_counter() - leg_started) * 1000, 2)
        if lexical_future is not None:
            lexical, lexical_plan, seconds = lexical_future.result()
            timings["lexical_ms"] = round(seconds * 1000, 2)

        exact: set[int] = set()
        if mode == "hybrid":
            items = reciprocal_rank_fusion(
                {"lexical": lexical, "semantic": semantic},
                k=self.settings.rrf_k,
                weights={
                    "lexical": self.settings.lexical_weight,
                    "semantic": self.settings.semantic_weight,
                },
            )
            exact = self._exact_passages(parsed, lexical)
        elif mode == "lexical":
            items = single_list(lexical, "lexical")
        else:
            items = single_list(semantic, "semantic")
            exact = self._exact_passages(parsed, semantic)
        items = [i for i in items if i.item in exact] + [i for i in items if i.item not in exact]
        plan: dict = {"depth": depth, **timings}
        if lexical_plan is not None:
            plan["lexical"] = lexical_plan.as_dict()
        if semantic_info is not None:
            plan["semantic"] = semantic_info.as_dict()
        if mode == "semantic":
            plan["exact_passages"] = len(exact)
        if mode == "hybrid":
            plan["fusion"] = {
                "exact_passages": len(exact),
                "method": "rrf",
                "k": self.settings.rrf_k,
                "weights": {
                    "lexical": self.settings.lexical_weight,
                    "semantic": self.settings.semantic_weight,
                },
            }
        by_sentence = semantic_info.by_sentence if semantic_info else frozenset()
        return Ranking(items, plan, lexical_plan, version, mode, by_sentence)

    def book_ranking(
        self,
        parsed: ParsedQuery,
        query: str,
        mode: SearchMode,
        filters: SearchFilters | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Ranking:
        """Return each book's best passage, best book first: the ranking of complete lists.

        A book's best passage can lie anywhere in a list (a query can fill the first thousand
        places with one book), so the lists are not cut: the lexical list is every matching
        passage, scored by FTS5 in one statement; the semantic list every chunk in scope,
        scored exactly in the matrix. Each book's first passage in their fusion, quotations
        first as in `ranking`, is the one shown; `ranking` at a depth beyond both lists gives
        the same passages.
        """
        scope = self.scope(filters or SearchFilters())
        version = self.store.data_version()
        timings: dict[str, float] = {}
        plan: dict = {"per_book": True}
        lexical_future = None
        lexical: list[tuple[int, str, float]] = []
        lexical_plan: LexicalPlan | None = None

        def run_lexical() -> tuple[list[tuple[int, str, float]], LexicalPlan, float]:
            leg_started = time.perf_counter()
            found, leg_plan = self.lexical.complete(
                parsed,
                scope,
                version=version,
                plan_common_terms=self.settings.plan_common_terms,
                informative_only=mode == "hybrid" and self.settings.plan_common_terms,
            )
            return found, leg_plan, time.perf_counter() - leg_started

        if mode == "lexical":
            lexical, lexical_plan, seconds = run_lexical()
            timings["lexical_ms"] = round(seconds * 1000, 2)
            seen: set[str] = set()
            items = []
            # One list, best first: a book's first passage in it is its best.
            for rank, (chunk_id, book_id, score) in enumerate(lexical, start=1):
                if book_id not in seen:
                    seen.add(book_id)
                    items.append(FusedItem(chunk_id, score, {"lexical": ListRank(rank, score)}))
            plan.update(timings, passages={"lexical": len(lexical)})
            plan["lexical"] = lexical_plan.as_dict()
            return Ranking(items, plan, lexical_plan, version, mode)

        if self.settings.parallel and mode == "hybrid":
            lexical_future = self._pool.submit(run_lexical)
        elif mode == "hybrid":
            lexical, lexical_plan, seconds = run_lexical()
            timings["lexical_ms"] = round(seconds * 1000, 2)
        leg_started = time.perf_counter()
        semantic = matrix = None
        numbers: dict[str, int] = {}
        vector = self._query_vector(parsed, query, scope, query_vector)
        if vector is not None:
            matrix = self.vectors.matrix(version)
            allowed = None if scope.unlimited else self.store.chunk_ids_in(scope)
            semantic, numbers = semantic_by_book(self.vectors, matrix, vector, allowed)
        timings["semantic_ms"] = round((time.perf_counter() - leg_started) * 1000, 2)
        if lexical_future is not None:
            lexical, lexical_plan, seconds = lexical_future.result()
            timings["lexical_ms"] = round(seconds * 1000, 2)

        import numpy as np

        lists = {}
        if lexical:
            books = [numbers.setdefault(book_id, len(numbers)) for _, book_id, _ in lexical]
            lists["lexical"] = BookList(
                np.array([chunk_id for chunk_id, _, _ in lexical], dtype=np.int64),
                np.array(books, dtype=np.int64),
                np.array([score for _, _, score in lexical], dtype=np.float64),
            )
        if semantic is not None:
            lists["semantic"] = semantic
        # Quotations come first among the passages of the list `ranking` checks for them.
        holder = lists.get("lexical" if mode == "hybrid" else "semantic")
        words = parsed.plain_words()
        ahead = None
        if holder is not None and words and len(words) >= EXACT_PHRASE_WORDS:
            ahead = np.array(self.store.phrase_passages(words, scope), dtype=np.int64)
            ahead = ahead[np.isin(ahead, holder.chunk_ids)]
        weights = {
            "lexical": self.settings.lexical_weight,
            "semantic": self.settings.semantic_weight,
        }
        items = best_per_book(
            lists, fuse=mode == "hybrid", k=self.settings.rrf_k, weights=weights, ahead=ahead
        )
        plan.update(timings)
        plan["passages"] = {name: len(entries.chunk_ids) for name, entries in lists.items()}
        if lexical_plan is not None:
            plan["lexical"] = lexical_plan.as_dict()
        exact_passages = 0 if ahead is None else len(ahead)
        if mode == "hybrid":
            plan["fusion"] = {
                "exact_passages": exact_passages,
                "method": "rrf",
                "k": self.settings.rrf_k,
                "weights": weights,
            }
        else:
            plan["exact_passages"] = exact_passages
        by_sentence = frozenset()
        if matrix is not None and vector is not None:
            by_sentence = matrix.won_by_sentence(vector, [item.item for item in items])
        return Ranking(items, plan, lexical_plan, version, mode, by_sentence)

    def _query_vector(
        self, parsed: ParsedQuery, query: str, scope: Scope, query_vector: np.ndarray | None
    ) -> np.ndarray | None:
        """Return the vector to search with (embedding the query if none was given), or None
        when nothing is to be searched."""
        if scope.empty:
            return None
        if query_vector is not None:
            return query_vector
        text = self.semantic_text(parsed, query)
        if not text:
            return None
        try:
            return self.embeddings(text)
        except ValueError as exc:
            raise SearchError(str(exc)) from exc

    def _exact_passages(self, parsed: ParsedQuery, candidates: list[tuple[int, float]]) -> set[int]:
        """Return the candidates (a list's chunk ids) that hold a long plain query word for word.

        A query of EXACT_PHRASE_WORDS or more plain words that a passage contains verbatim is
        a quotation looking for its source. Rank fusion, which sees ranks only, could put a
        passage close in meaning above it, and so could an embedding when the book says the
        same thing twice in other words; such passages go first.
        """
        words = parsed.plain_words()
        if not words or len(words) < EXACT_PHRASE_WORDS:
            return set()
        return self.store.phrase_matches(words, [item for item, _ in candidates])

    def scope(self, filters: SearchFilters) -> Scope:
        """Resolve filters to the book ids and section ids a search may return."""
        book_ids = None
        if filters.book_ids or filters.authors or filters.formats:
            wanted_ids = set(filters.book_ids)
            wanted_authors = [a.casefold() for a in filters.authors]
            wanted_formats = {f.casefold() for f in filters.formats}
            book_ids = tuple(
                sorted(
                    book_id
                    for book_id, authors, book_format in self.store.books()
                    if (not wanted_ids or book_id in wanted_ids)
                    and (
                        not wanted_authors
                        or any(w in a.casefold() for w in wanted_authors for a in authors)
                    )
                    and (not wanted_formats or book_format.casefold() in wanted_formats)
                )
            )
        section_ids = None
        if filters.section_id:
            if self.subtree is None:
                raise SearchError("a section filter needs the ToC graph (Neo4j)")
            section_ids = tuple(self.subtree(filters.section_id))
        return Scope(book_ids, section_ids)

    def semantic_text(self, parsed: ParsedQuery, query: str) -> str:
        """Return the text to embed: the query itself, or its searched words if it has syntax."""
        if parsed.plain_words() is not None:
            return " ".join(clean_query_text(query).split())
        return " ".join(o.text for o in parsed.highlight_terms)

    def _semantic(
        self,
        parsed: ParsedQuery,
        query: str,
        depth: int,
        scope: Scope,
        version: int,
        query_vector: np.ndarray | None,
    ) -> tuple[list[tuple[int, float]], VectorSearchInfo | None]:
        query_vector = self._query_vector(parsed, query, scope, query_vector)
        if query_vector is None:
            return [], None
        matrix = self.vectors.matrix(version)
        allowed = None if scope.unlimited else self.store.chunk_ids_in(scope)
        return semantic_ranked(
            matrix,
            query_vector,
            depth,
            allowed=allowed,
            exact_below=self.settings.vector_exact_below,
            rescore=self.settings.vector_rescore,
        )

    # --- reading hits ------------------------------------------------------------------------

    def _page(self, items: list[FusedItem], k: int, offset: int) -> tuple[list[FusedItem], int]:
        """Return the page's items (chunks that still exist) and how many there are in all."""
        books = self.store.book_of([item.item for item in items])
        present = [item for item in items if item.item in books]
        return present[offset : offset + k], len(present)

    def _hit(
        self,
        rank: int,
        item: FusedItem,
        row: dict,
        terms: HighlightTerms,
        ranking: Ranking,
        explain: bool,
        marks: tuple[str, str],
    ) -> SearchHit:
        text = row["text"]
        snippet = make_snippet(
            text,
            self.tokens.spans(text),
            terms,
            width=self.settings.snippet_width,
            marks=marks,
        )
        hit = SearchHit(
            rank=rank,
            book_id=row["book_id"],
            title=row["title"],
            authors=row["authors"],
            section_path=row["section_path"].split(" > ") if row["section_path"] else [],
            section_id=row["section_id"],
            page_start=row["page_start"],
            page_end=row["page_end"],
            page_label=row["page_label_start"],
            chunk_id=row["chunk_id"],
            snippet=snippet,
            score=round(item.score, 6),
            ocr=row["ocr"],
        )
        if explain:
            hit.explain = _explain(item, ranking)
        return hit


def _explain(item: FusedItem, ranking: Ranking) -> dict:
    """Return a hit's rank and score in each list (and which vector matched), and its fused score.

    A semantic hit matched either through its chunk's vector or through one of its sentences'.
    """
    lists: dict[str, dict | None] = {name: None for name in ("lexical", "semantic")}
    for name, entry in item.lists.items():
        lists[name] = {"rank": entry.rank, "score": round(entry.score, 6)}
    if lists["semantic"] is not None:
        lists["semantic"]["vector"] = "sentence" if item.item in ranking.by_sentence else "chunk"
    return {**lists, "fused": round(item.score, 6) if ranking.mode == "hybrid" else None}
