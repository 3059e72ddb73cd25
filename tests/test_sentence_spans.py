"""A chunk's sentences as word-piece ranges: short ones joined, long ones cut, one alone dropped."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from hbi.chunking import (
    MAX_SENTENCE_TOKENS,
    MIN_SENTENCE_TOKENS,
    SENTENCE_WINDOW_TOKENS,
    sentence_spans,
)


def word_offsets(text: str) -> list[tuple[int, int]]:
    """A tokenizer stand-in: one word piece per whitespace-separated word."""
    return [match.span() for match in re.finditer(r"\S+", text)]


def words(count: int, last: str = ".") -> str:
    return " ".join(f"w{i}" for i in range(count - 1)) + f" end{last}"


def span_texts(text: str) -> list[str]:
    offsets = word_offsets(text)
    return [text[offsets[i][0] : offsets[k - 1][1]] for i, k in sentence_spans(text, offsets)]


def test_each_sentence_is_one_span_of_its_word_pieces() -> None:
    first, second, third = words(10), words(12, "?"), words(9, "!")
    assert span_texts(f"{first} {second} {third}") == [first, second, third]


def test_a_paragraph_break_ends_a_sentence_without_punctuation() -> None:
    first, second = words(10, ""), words(10)
    assert span_texts(f"{first}\n\n{second}") == [first, second]


def test_a_short_sentence_joins_the_one_after_it() -> None:
    heading, body, more = "Chapter 3.", words(12), words(10)
    assert span_texts(f"{heading} {body} {more}") == [f"{heading} {body}", more]


def test_a_short_last_sentence_joins_the_one_before_it() -> None:
    body, more, tail = words(12), words(10), "He left."
    assert span_texts(f"{body} {more} {tail}") == [body, f"{more} {tail}"]


def test_a_very_long_sentence_is_cut_into_near_equal_windows() -> None:
    text = f"{words(130)} {words(10)}"
    lengths = [k - i for i, k in sentence_spans(text, word_offsets(text))]
    assert lengths == [43, 44, 43, 10]


def test_a_chunk_of_one_sentence_gets_no_sentence_spans() -> None:
    text = f"{words(30)} Ok."
    assert sentence_spans(text, word_offsets(text)) == []
    assert sentence_spans("", []) == []


@given(
    st.lists(
        st.one_of(st.sampled_from(["end.", "why?", "\n\n", "Mr.", "“No!”", "…"]), st.just("w")),
        max_size=400,
    )
)
def test_spans_partition_the_chunk_within_the_size_bounds(tokens: list[str]) -> None:
    text = " ".join(tokens)
    offsets = word_offsets(text)
    spans = sentence_spans(text, offsets)
    if spans:
        assert spans[0][0] == 0 and spans[-1][1] == len(offsets)
        assert all(k == next_i for (_, k), (next_i, _) in zip(spans, spans[1:], strict=False))
        sizes = [k - i for i, k in spans]
        assert min(sizes) >= MIN_SENTENCE_TOKENS
        assert max(sizes) <= max(MAX_SENTENCE_TOKENS, SENTENCE_WINDOW_TOKENS)
