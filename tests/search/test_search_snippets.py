"""Snippets: the window with the most (rarest) query terms, terms marked as FTS5 matched them."""

from __future__ import annotations

from hbi.search.fts_query import parse_query
from hbi.search.snippets import HighlightTerms, make_snippet
from hbi.search.tokens import Fts5Tokens

TOKENS = Fts5Tokens()


def snippet(text: str, query: str, **options) -> str:
    terms = HighlightTerms.from_operands(
        parse_query(query).highlight_terms, lambda t: TOKENS.tokens(t, query=True)
    )
    return make_snippet(text, TOKENS.spans(text), terms, **options)


def test_stemmed_and_case_folded_terms_are_marked() -> None:
    assert snippet("The Time Machines ran.", "machine time") == "The [Time] [Machines] ran."


def test_prefix_marks_every_word_it_starts() -> None:
    assert snippet("travel, traveller and trains", "travel*") == (
        "[travel], [traveller] and trains"
    )


def test_diacritics_are_folded() -> None:
    assert snippet("un café noir", "cafe") == "un [café] noir"


def test_custom_marks() -> None:
    assert snippet("the war", "war", marks=("<mark>", "</mark>")) == "the <mark>war</mark>"


def test_window_moves_to_the_terms_with_ellipses() -> None:
    text = " ".join(f"w{i}" for i in range(200)) + " the art of war " + "tail " * 50
    shown = snippet(text, "art war", width=12)
    assert shown.startswith("…") and shown.endswith("…")
    assert "[art]" in shown and "[war]" in shown


def test_rarer_terms_choose_the_window() -> None:
    text = "the " * 40 + "lonely zebra " + "the " * 40
    terms = HighlightTerms(frozenset({"the", "zebra"}), (), {"the": 0.01, "zebra": 9.0})
    shown = make_snippet(text, TOKENS.spans(text), terms, width=10)
    assert "[zebra]" in shown


def test_terms_can_be_left_unmarked() -> None:
    terms = HighlightTerms(frozenset({"the", "war"})).without(["the"])
    assert make_snippet("the war", TOKENS.spans("the war"), terms) == "the [war]"


def test_no_matching_term_shows_the_opening() -> None:
    text = "Alice was beginning to get very tired. " * 10
    shown = snippet(text, "telescope", width=5)
    assert shown == "Alice was beginning to get…"


def test_newlines_become_spaces() -> None:
    assert snippet("first line\n\nsecond war line", "war") == "first line second [war] line"
