"""Per-book search against the collapse of complete lists, on a real library (three books).

The reference is what per-book search did by deepening: the fused ranking with lists deeper
than the library, each book's first passage kept. Per-book search computes each book's best
passage directly and must give the same passages, in the same order, with the same scores.
"""

from __future__ import annotations

import pytest
from search_corpus import ALICE, TIME_MACHINE, WAR

from hbi.search import LibrarySearch, SearchFilters
from hbi.search.fts_query import parse_query

MODES = ("lexical", "semantic", "hybrid")
QUERIES = (
    "time",  # fills the first hundreds of places with one book
    "the queen",  # a word in most passages and a rarer one
    "all warfare is based on deception",
    '"drink me" OR morlock*',  # FTS5 syntax
    "rabbit NOT alice",
    # A quotation (eight words or more, held verbatim): its passage goes first.
    "the Time Traveller (for so it will be convenient to speak of him)",
)
BEYOND_THE_LIBRARY = 100_000


def deep_collapse(
    searcher: LibrarySearch, query: str, mode: str, filters: SearchFilters | None = None
) -> list[tuple[int, float]]:
    parsed = parse_query(query, searcher.tokens.has_token)
    ranking = searcher.ranking(parsed, query, mode, BEYOND_THE_LIBRARY, filters)
    books = searcher.store.book_of([item.item for item in ranking.items])
    seen: set[str] = set()
    best = []
    for item in ranking.items:
        if books[item.item] not in seen:
            seen.add(books[item.item])
            best.append((item.item, item.score))
    return best


def per_book(
    searcher: LibrarySearch, query: str, mode: str, filters: SearchFilters | None = None
) -> list[tuple[int, float]]:
    parsed = parse_query(query, searcher.tokens.has_token)
    ranking = searcher.book_ranking(parsed, query, mode, filters)
    return [(item.item, item.score) for item in ranking.items]


def assert_same(found: list[tuple[int, float]], expected: list[tuple[int, float]]) -> None:
    assert [chunk for chunk, _ in found] == [chunk for chunk, _ in expected]
    assert [score for _, score in found] == pytest.approx([s for _, s in expected], rel=1e-9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query", QUERIES)
def test_each_books_best_passage_equals_the_deep_collapse(searcher, query, mode) -> None:
    assert_same(per_book(searcher, query, mode), deep_collapse(searcher, query, mode))


@pytest.mark.parametrize("mode", MODES)
def test_filters_limit_the_books_as_in_the_deep_collapse(searcher, mode) -> None:
    filters = SearchFilters(book_ids=(WAR, ALICE))
    assert_same(
        per_book(searcher, "time", mode, filters), deep_collapse(searcher, "time", mode, filters)
    )
    hits = searcher.search("time", mode=mode, collapse_books=True, filters=filters).hits
    assert {hit.book_id for hit in hits} <= {WAR, ALICE}


@pytest.mark.parametrize("mode", MODES)
def test_a_page_holds_one_passage_per_book_and_pages_are_slices(searcher, mode) -> None:
    whole = searcher.search("time", mode=mode, k=10, collapse_books=True).hits
    assert len({hit.book_id for hit in whole}) == len(whole) == 3
    pages = [
        hit.chunk_id
        for offset in range(3)
        for hit in searcher.search("time", mode=mode, k=1, offset=offset, collapse_books=True).hits
    ]
    assert pages == [hit.chunk_id for hit in whole]
    assert whole[0].book_id == TIME_MACHINE


def test_explain_gives_each_hits_ranks_in_the_complete_lists(searcher) -> None:
    result = searcher.search("time", k=3, collapse_books=True, explain=True)
    assert result.plan["per_book"] is True
    assert result.plan["passages"]["semantic"] >= result.plan["passages"]["lexical"] > 3
    for hit in result.hits:
        assert hit.explain is not None and hit.explain["fused"] == hit.score
        lists = [hit.explain[name] for name in ("lexical", "semantic") if hit.explain[name]]
        assert lists and all(entry["rank"] >= 1 for entry in lists)
