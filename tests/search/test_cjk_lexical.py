"""Words inside lines of Chinese are found (bigram index `chunks_cjk`); English is untouched.

The CJK book is tests/data/cjk/tang-poems.md (74 Tang quatrains, one `##` section each, see
SOURCES.md there), bundled with the real embedding model and written through `apply_books`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from search_corpus import Library

from hbi.books.ids import book_id_for_key
from hbi.bundle.build import bundle_rows, prepare_book
from hbi.bundle.files import bundle_fingerprint
from hbi.index.db import connect
from hbi.index.search import IndexStore
from hbi.index.unsegmented import bigrams
from hbi.index.writer import ProjectedBook, apply_books, remove_books
from hbi.search import LibrarySearch
from hbi.search.fts_query import parse_query
from tests.small_books import book_rows, projected, small_bundle

POEMS = Path(__file__).parents[1] / "data" / "cjk" / "tang-poems.md"
CLAUSE_END = re.compile(r"[，。？！、；：]")
ENGLISH_QUERIES = (
    "time machine",
    "Morlocks",
    '"the White Rabbit"',
    "war AND strategy",
    "attack NOT fire",
    "mach*",
    "the of and",
    "Étienne",
)


def poems() -> dict[str, str]:
    """Return each poem's title and its text (author and lines), in book order."""
    sections = re.split(r"^## ", POEMS.read_text(encoding="utf-8"), flags=re.M)[1:]
    return {s.split("\n", 1)[0].strip(): s.split("\n", 1)[1] for s in sections}


def word_set() -> list[tuple[str, str]]:
    """Return (word, poem title) pairs: characters 2-3 and 2-4 of the second and third clause
    of each poem's verse, kept when no other poem holds the word."""
    texts = poems()
    pairs = []
    for title, text in texts.items():
        verse = "".join(text.strip().split("\n")[1:])  # the lines after the author
        clauses = [c for c in CLAUSE_END.split(verse) if c]
        for word in (clauses[1][1:3], clauses[2][1:4]):
            if sum(word in other for other in texts.values()) == 1:
                pairs.append((word, title))
    return pairs


@pytest.fixture(scope="module")
def cjk_index(tmp_path_factory: pytest.TempPathFactory, model) -> Path:
    """An index holding the Tang poems and nothing else."""
    path = tmp_path_factory.mktemp("cjk") / "index.sqlite"
    key = "tang-poems.md"
    prepared = prepare_book(
        POEMS.read_bytes(),
        book_id=book_id_for_key(key),
        object_key=key,
        etag="",
        tokenizer=model,
    )
    bundle, _ = bundle_rows(prepared.rows, model.embed_chunks, model.model_id, {})
    connection = connect(path)
    try:
        apply_books(connection, [ProjectedBook(bundle, bundle_fingerprint(bundle))])
    finally:
        connection.close()
    return path


@pytest.fixture(scope="module")
def cjk_search(cjk_index: Path, model) -> LibrarySearch:
    search = LibrarySearch(str(cjk_index), embed=model.embed)
    yield search
    search.close()


def hit_rate(search: LibrarySearch, mode: str) -> tuple[float, list[str]]:
    """Return the share of test words whose poem is the rank-1 hit, and the misses."""
    pairs = word_set()
    misses = []
    for word, title in pairs:
        hits = search.search(word, mode=mode, k=1).hits
        if not hits or hits[0].section_path[-1:] != [title]:
            found = hits[0].section_path if hits else None
            misses.append(f"{word} ({title}): {found}")
    return 1 - len(misses) / len(pairs), misses


def test_the_word_set_is_large_and_inside_lines() -> None:
    pairs = word_set()
    assert len(pairs) >= 30
    assert {len(word) for word, _ in pairs} == {2, 3}


def test_words_inside_lines_find_their_poem_in_lexical_mode(cjk_search: LibrarySearch) -> None:
    rate, misses = hit_rate(cjk_search, "lexical")
    print(f"lexical: {rate:.1%} of {len(word_set())} words at rank 1; misses {misses}")
    assert rate >= 0.9, misses


def test_words_inside_lines_find_their_poem_in_hybrid_mode(cjk_search: LibrarySearch) -> None:
    rate, misses = hit_rate(cjk_search, "hybrid")
    print(f"hybrid: {rate:.1%} of {len(word_set())} words at rank 1; misses {misses}")
    assert rate >= 0.9, misses


def test_the_explained_plan_names_the_bigram_list(cjk_search: LibrarySearch) -> None:
    word, _ = word_set()[0]
    result = cjk_search.search(word, mode="lexical", k=3, explain=True)
    assert result.plan["lexical"]["unsegmented"] == {
        "expression": f'"{word}"',
        "candidates": len(result.hits),
    }


def test_a_single_character_and_a_title_are_found(cjk_search: LibrarySearch) -> None:
    # 霜 ends a clause of 靜夜思, where no bigram starts with it.
    assert any(h.section_path[-1] == "靜夜思" for h in cjk_search.search("霜", mode="lexical").hits)
    top = cjk_search.search("鸛雀", mode="lexical", k=1).hits
    assert top[0].section_path[-1] == "登鸛雀樓"


def test_books_per_search_merge_the_bigram_list(cjk_search: LibrarySearch) -> None:
    word, _ = word_set()[0]
    result = cjk_search.search(word, mode="lexical", collapse_books=True)
    assert len(result.hits) == 1


def test_the_tokenizer_cuts_runs_into_bigrams_and_skips_other_text() -> None:
    text = "床前明月光，疑 Étienne 霜 ภาษาไทย"
    tokens = [tokens for _, _, *tokens in bigrams(text, with_characters=False)]
    assert tokens[:4] == [["床前"], ["前明"], ["明月"], ["月光"]]
    assert ["疑"] in tokens and ["霜"] in tokens and ["ภา"] in tokens
    data = text.encode()
    for start, end, token, *_ in bigrams(text):
        assert data[start:end].decode() == token


def test_an_index_made_before_the_bigram_table_gets_it_filled(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    connection = connect(path)
    apply_books(connection, [projected(small_bundle(book_rows(["床前明月光。", "moon light."])))])
    connection.execute("DROP TABLE chunks_cjk")
    connection.close()
    connection = connect(path)  # as an index written by the previous release opens
    found = connection.execute(
        "SELECT rowid FROM chunks_cjk WHERE chunks_cjk MATCH '\"明月\"'"
    ).fetchall()
    assert len(found) == 1
    remove_books(connection, ["book"])
    connection.execute("INSERT INTO chunks_cjk(chunks_cjk) VALUES ('integrity-check')")
    assert connection.execute("SELECT count(*) FROM chunks_cjk_docsize").fetchone()[0] == 0
    connection.close()


def test_accents_and_case_still_match_across_scripts(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    connection = connect(path)
    apply_books(
        connection,
        [projected(small_bundle(book_rows(["Étienne met Ωμέγα.", "Nothing here."])))],
    )
    connection.close()
    search = LibrarySearch(str(path), embed=None)
    try:
        for query in ("etienne", "ÉTIENNE", "Étienne", "ωμέγα", "ΩΜΈΓΑ", "ωμεγα", "ΩΜΕΓΑ"):
            hits = search.search(query, mode="lexical").hits
            assert [h.section_path[-1] for h in hits] == ["Part 0"], query
    finally:
        search.close()


def test_english_queries_never_read_the_bigram_table(
    library: Library, model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """English books add no token to chunks_cjk, English queries run the word index alone,
    and their results are those of the word index's own list."""
    path = tmp_path / "index.sqlite"
    shutil.copy(library.path, path)
    connection = connect(path)
    tokens = connection.execute(
        "SELECT count(*) FROM chunks_cjk_data WHERE id > 10"  # beyond structure records
    ).fetchone()[0]
    connection.close()
    assert tokens == 0
    tables: list[str] = []
    for name in ("bm25_list", "bm25_books"):
        original = getattr(IndexStore, name)

        def recording(self, *args, _original=original, table="chunks_fts", **kwargs):
            tables.append(table)
            return _original(self, *args, table=table, **kwargs)

        monkeypatch.setattr(IndexStore, name, recording)
    search = LibrarySearch(str(path), embed=model.embed)
    try:
        for query in ENGLISH_QUERIES:
            parsed = parse_query(query, search.tokens.has_token)
            assert parsed.unsegmented_expression() is None
            for mode in ("lexical", "hybrid"):
                result = search.search(query, mode=mode, explain=True)
                assert "unsegmented" not in result.plan["lexical"]
            for collapse in (False, True):
                search.search(query, mode="lexical", collapse_books=collapse)
            ranked, _ = search.lexical.ranked(parsed, 50)
            words, _ = search.lexical._word_ranked(
                parsed, 50, None, version=None, plan_common_terms=True, informative_only=False
            )
            assert ranked == words
    finally:
        search.close()
    assert tables and set(tables) == {"chunks_fts"}


def test_hybrid_lets_the_lexical_list_rank_queries_the_model_cannot_read(
    cjk_search: LibrarySearch,
) -> None:
    word, title = word_set()[0]
    result = cjk_search.search(word, mode="hybrid", k=3, explain=True)
    assert result.mode == "hybrid"
    assert result.plan["fusion"]["method"] == "lexical only"
    assert "semantic" not in result.plan
    assert result.hits[0].section_path[-1] == title
    assert result.hits[0].explain["semantic"] is None


def test_snippets_mark_the_words_inside_lines(cjk_search: LibrarySearch) -> None:
    for word, _ in word_set()[:20]:
        for mode in ("lexical", "hybrid"):
            snippet = cjk_search.search(word, mode=mode, k=1).hits[0].snippet
            assert f"[{word}]" in snippet, (word, mode, snippet)
