"""The lexical plan for common words gives FTS5's own BM25 ranking, at a fraction of the work."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hbi.index.db import connect, write_transaction
from hbi.index.search import IndexStore, Scope
from hbi.search import bm25
from hbi.search.bm25 import ColumnWeights, CorpusStats
from hbi.search.fts_query import parse_query
from hbi.search.lexical import LexicalSearch, TermStat, choose_matched, maxscore_matched
from hbi.search.tokens import Fts5Tokens

PASSAGES = 3_000
STOPWORDS = ["the", "of", "and", "to", "in", "was", "he", "it"]


@pytest.fixture(scope="module")
def zipf_index(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An index of passages drawn from a Zipf vocabulary headed by stop words."""
    rng = np.random.default_rng(5)
    words = STOPWORDS + [f"w{n}" for n in range(4_000)]
    p = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    p /= p.sum()
    path = str(tmp_path_factory.mktemp("zipf") / "index.sqlite")
    connection = connect(path)
    with write_transaction(connection):
        for book in range(PASSAGES // 100):
            connection.execute(
                "INSERT INTO books (book_id, title, authors, identifiers, format, object_key, "
                "content_hash, size_bytes, toc_derived, toc_entries, toc_depth, chunk_count, "
                "token_count, index_terms, warnings, indexed_at) VALUES "
                "(?, ?, '[]', '[]', 'text', ?, '', 0, 0, 0, 0, 0, 0, 0, '[]', '')",
                (f"b{book}", f"Book {words[8 + book]}", f"b{book}.txt"),
            )
        for n in range(1, PASSAGES + 1):
            text = " ".join(rng.choice(words, size=int(rng.integers(20, 60)), p=p))
            section = f"Part {n % 7} > {words[8 + n % 500]}"
            book_id = f"b{(n - 1) // 100}"
            connection.execute(
                "INSERT INTO chunks (chunk_id, book_id, ordinal, section_path, book_title, text, "
                "char_start, char_end, token_count, content_hash, is_matter) "
                "SELECT ?, ?, ?, ?, title, ?, 0, 0, 0, '', 0 FROM books WHERE book_id = ?",
                (n, book_id, n % 100, section, text, book_id),
            )
            connection.execute(
                "INSERT INTO chunks_fts (rowid, text, section_path, book_title) "
                "SELECT chunk_id, text, section_path, book_title FROM chunks WHERE chunk_id = ?",
                (n,),
            )
    connection.close()
    return path


def full_fts5(store: IndexStore, words: list[str], depth: int) -> list[tuple[int, float]]:
    """FTS5's own ranking over every word."""
    expression = " OR ".join(f'"{w}"' for w in words)
    return store.bm25_list(expression, depth, ColumnWeights())


def queries(seed: int, count: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    pool = STOPWORDS + [f"w{n}" for n in range(300)]
    return [
        list(rng.choice(pool, size=int(rng.integers(2, 5)), replace=False)) for _ in range(count)
    ]


def test_python_bm25_equals_fts5_bm25(zipf_index: str) -> None:
    store = IndexStore(zipf_index)
    tokens = Fts5Tokens()
    words = ["the", "w3", "w40"]
    stats = store.corpus_stats('"the"')
    counts = store.doc_counts(words)
    idfs = [bm25.idf(stats, counts[w]) for w in words]
    for chunk_id, fts5_score in store.bm25_list('"the" OR "w3" OR "w40"', 30, ColumnWeights()):
        columns = store.passage_columns([chunk_id])[chunk_id]
        frequencies, length = bm25.weighted_frequencies(
            [tokens.tokens(c) for c in columns], words, ColumnWeights()
        )
        assert bm25.score(frequencies, idfs, length, stats) == pytest.approx(fts5_score, rel=1e-9)


@pytest.mark.parametrize("depth", [10, 50])
def test_common_term_plan_matches_full_fts5(zipf_index: str, depth: int) -> None:
    store = IndexStore(zipf_index)
    search = LexicalSearch(store, Fts5Tokens(), budget=200, second_budget=2_000)
    planned = exact = 0
    for words in queries(depth, 60):
        found, plan = search.ranked(parse_query(" ".join(words)), depth)
        truth = full_fts5(store, words, depth)
        if plan.strategy == "common-terms":
            planned += 1
        if plan.exact:
            exact += 1
            assert [c for c, _ in found] == [c for c, _ in truth], (words, plan)
            assert [s for _, s in found] == pytest.approx([s for _, s in truth], rel=1e-9)
    assert planned >= 40
    assert exact >= 50


def test_plan_defers_words_beyond_the_budget(zipf_index: str) -> None:
    search = LexicalSearch(IndexStore(zipf_index), Fts5Tokens(), budget=200)
    _, plan = search.ranked(parse_query("w250 the of w1"), 10)
    assert plan.strategy == "common-terms"
    assert plan.matched[0] == "w250"
    assert {"the", "of"} <= set(plan.deferred)
    assert plan.idf["the"] == bm25.IDF_FLOOR


def test_plan_respects_the_scope(zipf_index: str) -> None:
    search = LexicalSearch(IndexStore(zipf_index), Fts5Tokens(), budget=200)
    found, _ = search.ranked(parse_query("w5 the w9"), 20, Scope(book_ids=("b3",)))
    assert found and all(3 * 100 < c <= 4 * 100 for c, _ in found)


def test_only_stop_words_fall_back_to_fts5(zipf_index: str) -> None:
    search = LexicalSearch(IndexStore(zipf_index), Fts5Tokens())
    found, plan = search.ranked(parse_query("the of"), 10)
    assert plan.strategy == "fts5" and len(found) == 10


def test_choose_matched_takes_rarest_words_within_budget() -> None:
    stats = CorpusStats(1_000, 10_000)

    def term(word: str, docs: int) -> TermStat:
        return TermStat(word, word, docs, bm25.idf(stats, docs))

    terms = [term("a", 900), term("b", 5), term("c", 100), term("d", 300), term("e", 0)]
    assert [t.word for t in choose_matched(terms, 150)] == ["b", "c"]
    assert [t.word for t in choose_matched(terms, 1)] == ["b"]
    # Only words whose bounds can lift a passage over the threshold must be matched.
    # d can add at most 2.2 * idf(300 of 1000) = 1.86, c 4.83: below 3.0 only d is optional.
    assert [t.word for t in maxscore_matched(terms, threshold=3.0)] == ["b", "c"]
    assert [t.word for t in maxscore_matched(terms, threshold=0.0)] == ["b", "c", "d"]
    assert [t.word for t in maxscore_matched(terms, threshold=math.inf)] == ["b"]


def test_hybrid_skips_a_list_of_only_very_common_words(zipf_index: str) -> None:
    search = LexicalSearch(IndexStore(zipf_index), Fts5Tokens(), budget=200)
    found, plan = search.ranked(parse_query("the of"), 10, informative_only=True)
    assert found == [] and plan.strategy == "skipped" and not plan.exact
    found, plan = search.ranked(parse_query("the of"), 10, Scope(book_ids=("b1",)))
    assert len(found) == 10


def test_a_short_list_is_completed_like_fts5(zipf_index: str) -> None:
    store = IndexStore(zipf_index)
    search = LexicalSearch(store, Fts5Tokens(), budget=200)
    found, plan = search.ranked(parse_query("w3999 the"), 30)
    assert plan.exact and plan.void_tail > 0
    assert found == full_fts5(store, ["w3999", "the"], 30)
