"""What users may write: words (any), "phrases", prefix*, AND / OR / NOT between operands."""

from __future__ import annotations

import apsw
import pytest

from hbi.search.fts_query import Operand, parse_query
from hbi.search.tokens import Fts5Tokens

ROWS = {
    1: "the time machine was built by the traveller",
    2: "a machine for measuring time",
    3: "machinery of war and the art of strategy",
    4: "holmes and watson solve the case",
    5: "holmes works alone",
}


@pytest.fixture(scope="module")
def table() -> apsw.Connection:
    connection = apsw.Connection(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')"
    )
    for rowid, text in ROWS.items():
        connection.execute("INSERT INTO t(rowid, text) VALUES (?, ?)", (rowid, text))
    return connection


def matches(table: apsw.Connection, query: str) -> set[int]:
    expression = parse_query(query, Fts5Tokens().has_token).expression()
    assert expression is not None
    return {r for (r,) in table.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,))}


def test_words_match_any_of_them(table) -> None:
    assert matches(table, "traveller strategy") == {1, 3}


def test_words_are_stemmed_like_the_index(table) -> None:
    assert matches(table, "machines") == {1, 2}


def test_phrase_needs_the_words_adjacent(table) -> None:
    assert matches(table, '"time machine"') == {1}


def test_unbalanced_quote_is_a_phrase_to_the_end(table) -> None:
    parsed = parse_query('war "time machine')
    assert parsed.operands[-1] == Operand("time machine", "phrase")
    assert matches(table, '"time machine') == {1}


def test_prefix_matches_longer_words(table) -> None:
    assert matches(table, "machin*") == {1, 2, 3}


def test_and_requires_both(table) -> None:
    assert matches(table, "holmes AND watson") == {4}


def test_not_excludes(table) -> None:
    assert matches(table, "holmes NOT watson") == {5}
    assert parse_query("holmes NOT watson").operands[1].negated


def test_and_not_means_not(table) -> None:
    assert matches(table, "holmes AND NOT watson") == {5}


def test_or_is_explicit_any(table) -> None:
    assert matches(table, "traveller OR alone") == {1, 5}


def test_lowercase_operator_words_are_words(table) -> None:
    parsed = parse_query("war and peace")
    assert [o.text for o in parsed.operands] == ["war", "and", "peace"]
    assert parsed.operators == ("OR", "OR")


@pytest.mark.parametrize("query", ["NOT watson", "watson NOT", "AND", "OR OR"])
def test_misplaced_operators_are_searched_as_words(query: str) -> None:
    parsed = parse_query(query)
    assert set(parsed.operators) <= {"OR"}
    assert any(o.text in ("NOT", "AND", "OR") for o in parsed.operands)


def test_column_filters_and_near_are_plain_words(table) -> None:
    parsed = parse_query("text:holmes NEAR(holmes watson)")
    assert [o.text for o in parsed.operands] == ["text", "holmes", "NEAR", "holmes", "watson"]
    assert matches(table, "text:holmes NEAR(holmes watson)") == {4, 5}


def test_hyphenated_words_stay_one_phrase() -> None:
    assert parse_query("NIST SP 800-88").operands[-1] == Operand("800-88", "word")


def test_plain_words_only_for_bag_of_words_queries() -> None:
    assert parse_query("the art of war").plain_words() == ["the", "art", "of", "war"]
    assert parse_query('"art of war"').plain_words() is None
    assert parse_query("art*").plain_words() is None
    assert parse_query("art AND war").plain_words() is None


def test_negated_operands_are_not_highlighted() -> None:
    terms = parse_query("holmes NOT watson").highlight_terms
    assert [o.text for o in terms] == ["holmes"]
