"""Searching a real library (three corpus books): modes, hit fields, filters, pages, context."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pytest
from search_corpus import ALICE, TIME_MACHINE, WAR, Library

from hbi.books.book import BookMetadata, ExtractedBook, TocEntry
from hbi.bundle.build import bundle_rows
from hbi.bundle.files import bundle_fingerprint
from hbi.bundle.rows import ChunkVectors, build_rows
from hbi.chunking import chunk_book
from hbi.index.db import connect
from hbi.index.writer import ProjectedBook, apply_books, remove_books
from hbi.search import LibrarySearch, SearchError, SearchFilters, SearchSettings
from hbi.search.query_log import QueryLog
from hbi_resources.search import SearchResource

HIT_KEYS = {
    "rank", "book_id", "title", "authors", "section_path", "section_id", "page_start",
    "page_end", "page_label", "chunk_id", "snippet", "score", "ocr",
}  # fmt: skip
MODES = ("lexical", "semantic", "hybrid")


def chunk_text(library: Library, chunk_id: int) -> str:
    for rows in library.books.values():
        for chunk in rows.chunks:
            if chunk.chunk_id == chunk_id:
                return chunk.text
    raise KeyError(chunk_id)


def test_result_has_the_cli_json_shape(searcher: LibrarySearch) -> None:
    payload = searcher.search("supreme excellence without fighting", k=3).as_dict()
    assert set(payload) == {"query", "mode", "took_ms", "hits"}
    assert payload["mode"] == "hybrid" and payload["took_ms"] > 0
    assert len(payload["hits"]) == 3
    for rank, hit in enumerate(payload["hits"], 1):
        assert set(hit) == HIT_KEYS
        assert hit["rank"] == rank


def test_hybrid_places_the_hit_in_its_book(searcher: LibrarySearch) -> None:
    hits = searcher.search("supreme excellence: break the enemy's resistance without fighting").hits
    assert hits[0].book_id == WAR
    plain = [h.snippet.replace("[", "").replace("]", "").lower() for h in hits[:3]]
    hit = hits[next(i for i, text in enumerate(plain) if "supreme excellence" in text)]
    assert hit.title == "The Art of War" and hit.authors == ["Sun Tzu"]
    assert hit.section_path[-1] == "III. ATTACK BY STRATAGEM"
    assert hit.section_id and hit.section_id.startswith(WAR + "#s")
    assert "[excellence]" in hit.snippet and "[the]" not in hit.snippet


def test_lexical_phrase_matches_adjacent_words_only(searcher, library) -> None:
    hits = searcher.search('"drink me"', mode="lexical", k=20).hits
    assert hits
    for hit in hits:
        assert "drink me" in " ".join(chunk_text(library, hit.chunk_id).lower().split())


def test_lexical_prefix_and_boolean(searcher, library) -> None:
    for hit in searcher.search("morlock*", mode="lexical", k=10).hits:
        assert "morlock" in chunk_text(library, hit.chunk_id).lower()
    for hit in searcher.search("rabbit NOT alice", mode="lexical", k=10).hits:
        text = chunk_text(library, hit.chunk_id).lower()
        assert "rabbit" in text and "alice" not in text


def test_section_titles_weigh_more_than_text(searcher) -> None:
    hits = searcher.search("stratagem", mode="lexical", k=5).hits
    assert all(h.section_path[-1] == "III. ATTACK BY STRATAGEM" for h in hits)


def test_semantic_finds_a_paraphrase(searcher) -> None:
    hits = searcher.search("a girl drinks from a bottle and shrinks", mode="semantic", k=3).hits
    assert hits[0].book_id == ALICE
    assert 0 < hits[0].score <= 1


def test_pdf_hits_carry_pages(searcher) -> None:
    hits = searcher.search("Morlocks", mode="lexical", k=5).hits
    assert hits and all(h.book_id == TIME_MACHINE for h in hits)
    for hit in hits:
        assert hit.page_start is not None and hit.page_end >= hit.page_start
        assert hit.page_label is None or isinstance(hit.page_label, str)


@pytest.mark.parametrize("mode", MODES)
def test_book_filter(searcher, mode) -> None:
    filters = SearchFilters(book_ids=(ALICE,))
    hits = searcher.search("war and time", mode=mode, k=10, filters=filters).hits
    assert hits and {h.book_id for h in hits} == {ALICE}


def test_author_filter_is_a_case_insensitive_substring(searcher) -> None:
    hits = searcher.search("time", k=10, filters=SearchFilters(authors=("WELLS",))).hits
    assert hits and {h.book_id for h in hits} == {TIME_MACHINE}


def test_format_filter(searcher) -> None:
    filters = SearchFilters(formats=("markdown", "text"))
    hits = searcher.search("time", k=20, filters=filters).hits
    assert hits and {h.book_id for h in hits} <= {WAR, ALICE}


def test_filters_that_match_no_book_give_no_hits(searcher) -> None:
    filters = SearchFilters(book_ids=(WAR,), authors=("Carroll",))
    assert searcher.search("war", filters=filters).hits == []


@pytest.mark.parametrize("mode", MODES)
def test_pages_are_consecutive_slices(searcher, mode) -> None:
    whole = [h.chunk_id for h in searcher.search("the queen", mode=mode, k=20).hits]
    pages = []
    for offset in range(0, 20, 5):
        page = searcher.search("the queen", mode=mode, k=5, offset=offset).hits
        assert [h.rank for h in page] == list(range(offset + 1, offset + 6))
        pages.extend(h.chunk_id for h in page)
    assert pages == whole


@pytest.mark.parametrize("mode", ["lexical", "semantic"])
def test_collapse_keeps_each_books_best_passage(searcher, mode) -> None:
    # "time" fills the first 50 passages with The Time Machine; each book has its passage,
    # the first of its book in the plain list when the 200 first places hold one (a single
    # list's order does not depend on its depth; fusion's does: see test_search_per_book).
    full = searcher.search("time", mode=mode, k=200).hits
    collapsed = searcher.search("time", mode=mode, k=3, collapse_books=True).hits
    assert len({h.book_id for h in collapsed}) == len(collapsed) == 3
    assert collapsed[0].chunk_id == full[0].chunk_id
    first_of_book = {}
    for hit in full:
        first_of_book.setdefault(hit.book_id, hit.chunk_id)
    assert {h.book_id: h.chunk_id for h in collapsed if h.book_id in first_of_book} == (
        first_of_book
    )


def test_context_gives_previous_and_next_passages(searcher, library) -> None:
    hit = searcher.search("down the rabbit-hole", mode="lexical", k=1, context=True).hits[0]
    chunks = library.books[hit.book_id].chunks
    ordinal = next(c.ordinal for c in chunks if c.chunk_id == hit.chunk_id)
    assert hit.context is not None
    if ordinal > 0:
        assert hit.context["previous"]["chunk_id"] == chunks[ordinal - 1].chunk_id
    if ordinal + 1 < len(chunks):
        assert hit.context["next"]["text"] == chunks[ordinal + 1].text
    assert "context" in hit.as_dict()


def test_explain_shows_each_lists_rank_and_the_fused_score(searcher) -> None:
    result = searcher.search("the mad hatter's tea party", k=10, explain=True)
    assert {"lexical", "semantic", "fusion"} <= set(result.plan)
    assert result.plan["fusion"]["k"] == 60
    both = 0
    for hit in result.hits:
        explained = hit.as_dict()["explain"]
        ranks = [explained[name]["rank"] for name in ("lexical", "semantic") if explained[name]]
        assert explained["fused"] == pytest.approx(sum(1 / (60 + r) for r in ranks), abs=1e-6)
        assert hit.score == explained["fused"]
        both += len(ranks) == 2
    assert both >= 1


def test_weights_and_k_are_configurable(library, model) -> None:
    lexical_only = LibrarySearch(
        str(library.path), embed=model.embed, settings=SearchSettings(semantic_weight=0.0)
    )
    try:
        fused = [h.chunk_id for h in lexical_only.search("rabbit hole", k=5).hits]
        lexical = [h.chunk_id for h in lexical_only.search("rabbit hole", mode="lexical", k=5).hits]
        assert fused == lexical
    finally:
        lexical_only.close()


ODD_QUERIES = [
    '"', '"unbalanced', "NEAR(alice, 3)", "😀", "title:war", "((", "AND", "-", "*", "a" * 5000,
    "war " * 2000, "'; DROP TABLE chunks; --", "\x00", "rabbit-hole", "c'est déjà vu", "日本",
]  # fmt: skip


@pytest.mark.parametrize("query", ODD_QUERIES)
@pytest.mark.parametrize("mode", MODES)
def test_odd_queries_never_fail(searcher, query, mode) -> None:
    result = searcher.search(query, mode=mode, k=3)
    assert len(result.hits) <= 3


def test_empty_query_gives_no_hits(searcher) -> None:
    for mode in MODES:
        assert searcher.search("   ", mode=mode).hits == []


@pytest.mark.parametrize("arguments", [{"mode": "fuzzy"}, {"k": 0}, {"k": 5000}, {"offset": -1}])
def test_bad_requests_raise_search_error(searcher, arguments) -> None:
    with pytest.raises(SearchError):
        searcher.search("war", **arguments)


def test_resource_searches_and_logs_to_duckdb(library, tmp_path) -> None:
    log_path = tmp_path / "analytics.duckdb"
    resource = SearchResource(
        index_path=str(library.path), query_log_path=str(log_path), log_source="test"
    )
    result = resource.search("rabbit", authors=["carroll"], k=4)
    assert result.hits and result.hits[0].book_id == ALICE
    resource.search("zzzqqq", mode="lexical")
    entries = QueryLog(log_path).entries()
    assert [e["query"] for e in entries] == ["zzzqqq", "rabbit"]
    newest, oldest = entries
    assert newest["hit_count"] == 0 and newest["top_book_id"] is None
    assert oldest["mode"] == "hybrid" and oldest["filters"] == {"authors": ["carroll"]}
    assert oldest["hit_count"] == 4 and oldest["top_book_id"] == ALICE
    assert oldest["latency_ms"] > 0 and oldest["source"] == "test"


def test_graph_queries_need_a_graph(library) -> None:
    resource = SearchResource(index_path=str(library.path))
    with pytest.raises(SearchError):
        resource.outline(WAR)
    with pytest.raises(SearchError):
        resource.search("war", section_id=f"{WAR}#s0003")


def test_vector_changes_are_seen_and_deleted_books_vanish(tmp_path) -> None:
    path = str(tmp_path / "small.sqlite")
    rng = np.random.default_rng(1)

    class Words:  # a tokenizer stand-in: one piece per word
        def token_offsets(self, text: str) -> list[tuple[int, int]]:
            import re

            return [m.span() for m in re.finditer(r"\S+", text)]

    def embed(texts: list[str]) -> list[ChunkVectors]:
        vectors = rng.standard_normal((len(texts), 2, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
        return [ChunkVectors(v[0], v[1:]) for v in vectors]

    def add(book_id: str, text: str) -> np.ndarray:
        book = ExtractedBook(
            "text", text, [TocEntry(1, "Only", 0)], BookMetadata(title=book_id.title())
        )
        rows = build_rows(
            book_id=book_id,
            book=book,
            chunks=chunk_book(book, Words()),
            object_key=f"{book_id}.txt",
            etag=None,
            data=text.encode(),
        )
        bundle, _ = bundle_rows(rows, embed, "test-model", {})
        with closing(connect(path)) as connection:
            apply_books(connection, [ProjectedBook(bundle, bundle_fingerprint(bundle))])
        return bundle.sentence_vectors[bundle.chunk_ids[0]][0]  # first chunk's sentence vector

    first = add("first", "a quiet morning by the river")
    search = LibrarySearch(path, settings=SearchSettings(vector_refresh_s=0.0))
    try:
        assert search.search("x", mode="semantic", query_vector=first).hits[0].book_id == "first"
        second = add("second", "a loud evening in the city")
        hits = search.search("x", mode="semantic", query_vector=second, explain=True).hits
        assert hits[0].book_id == "second"
        assert hits[0].explain["semantic"]["vector"] == "sentence"
        with closing(connect(path)) as connection:
            assert remove_books(connection, ["second"]) == ["second"]
        hits = search.search("x", mode="semantic", query_vector=second).hits
        assert [h.book_id for h in hits] == ["first"]
        assert len(search.vectors.matrix()) == 2  # first's chunk and sentence vector only
    finally:
        search.close()
