"""Any user string becomes a valid FTS5 expression or None: never a syntax error, never syntax.

The expressions run against a real FTS5 table with the index's tokenizer, so an expression
FTS5 cannot parse would raise here.
"""

from __future__ import annotations

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbi.search.fts_query import MAX_OPERANDS, MAX_QUERY_CHARS, parse_query
from hbi.search.tokens import Fts5Tokens

TOKENS = Fts5Tokens()
NASTY = [
    '"', '""', "'", "*", "**", "AND", "OR", "NOT", "NEAR", "NEAR(", "(", ")", ":", "-", "+",
    "^", "{", "}", "[", "]", ",", ".", "title:", "text:", "{text book_title}:", "\\", "\x00",
    "\n", "\t", "😀", "🏳️‍🌈", "\u0301", "\ud800", "\ue000", "日本語", "ﬁ", "rank", "bm25",
    "chunks_fts", "'; DROP TABLE chunks; --", "x*", "*x", "a-b", "a_b", "war", "Machine",
    "don't", "800-88", "U.S.", "and", "or", "not",
]  # fmt: skip
nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=6)), max_size=24).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else "".join(parts)
)


@pytest.fixture(scope="module")
def fts_table() -> apsw.Connection:
    connection = apsw.Connection(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(text, section_path, book_title, "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    connection.execute(
        "INSERT INTO t VALUES ('The time machine and the war', 'I > Laying plans', 'Art of War')"
    )
    return connection


def _assert_valid(connection: apsw.Connection, query: str) -> None:
    for has_token in (None, TOKENS.has_token):
        expression = parse_query(query, has_token).expression()
        if expression is None:
            continue
        assert isinstance(expression, str) and expression
        # Raises apsw.SQLError on an FTS5 syntax error.
        connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.text(max_size=200))
def test_any_text_is_a_valid_expression_or_none(fts_table, query: str) -> None:
    _assert_valid(fts_table, query)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=nasty_text)
def test_syntax_characters_and_operators_are_never_an_error(fts_table, query: str) -> None:
    _assert_valid(fts_table, query)


@settings(max_examples=200, deadline=None)
@given(query=nasty_text)
def test_every_operand_reaches_fts5_quoted(query: str) -> None:
    parsed = parse_query(query)
    for operand in parsed.operands:
        fts5 = operand.fts5()
        assert fts5.startswith('"') and fts5.rstrip("*").endswith('"')
        assert fts5[1:].rstrip("*")[:-1].count('"') % 2 == 0  # embedded quotes are doubled
    assert len(parsed.operators) == max(len(parsed.operands) - 1, 0)
    assert set(parsed.operators) <= {"AND", "OR", "NOT"}


def test_injection_text_is_only_searched(fts_table) -> None:
    expression = parse_query("'; DROP TABLE t; -- title:x NEAR(a b) rank:1").expression()
    assert expression is not None
    fts_table.execute("SELECT count(*) FROM t WHERE t MATCH ?", (expression,)).fetchone()
    assert fts_table.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    assert "NEAR(" not in expression and ":" not in expression


def test_very_long_input_is_capped(fts_table) -> None:
    query = "war " * 100_000 + '"' + "x" * 100_000
    parsed = parse_query(query)
    assert len(parsed.operands) <= MAX_OPERANDS
    assert len(parsed.expression() or "") < MAX_QUERY_CHARS * 2
    _assert_valid(fts_table, query)


@pytest.mark.parametrize("query", ["", "   ", "😀😀", "***", '""', "()", "-- :", "\x00"])
def test_nothing_searchable_gives_none(query: str) -> None:
    assert parse_query(query, TOKENS.has_token).expression() is None
