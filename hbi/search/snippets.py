"""A passage's snippet: the window of text with the most query terms, those terms marked.

Terms are compared as FTS5 tokens (stemmed, case and diacritics folded), so `machines` in a
query marks `Machine` in the text, the way the lexical match found it; a prefix operand marks
every token it starts. In Chinese, Japanese or Thai text a word tokenizer's token is a whole
run of characters, so the query's runs of those scripts are marked where they occur inside
tokens, as the bigram index found them. Semantic hits may hold no query term: they show their
opening words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from hbi.search.fts_query import Operand

DEFAULT_MARKS = ("[", "]")
DEFAULT_WIDTH = 32  # tokens, about two lines
ELLIPSIS = "…"


@dataclass(frozen=True)
class HighlightTerms:
    """The tokens a snippet marks: exact tokens, and prefixes that mark any token they start."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    weights: dict[str, float] = field(default_factory=dict)  # rarer terms count more
    substrings: tuple[str, ...] = ()  # runs of unsegmented scripts, marked inside tokens

    def matches(self, token: str) -> bool:
        return self.whole(token) or any(s in token for s in self.substrings)

    def whole(self, token: str) -> bool:
        """Return whether the token is marked whole (not only runs inside it)."""
        return token in self.exact or any(token.startswith(p) for p in self.prefixes)

    def weight(self, token: str) -> float:
        return self.weights.get(token, 1.0)

    def without(self, tokens: Iterable[str]) -> HighlightTerms:
        """Return these terms minus tokens (kept if nothing else would be left to mark)."""
        left = self.exact - set(tokens)
        if not left and not self.prefixes and not self.substrings:
            return self
        return replace(self, exact=frozenset(left))

    @classmethod
    def from_operands(
        cls, operands: Iterable[Operand], tokenize, runs=lambda text: ()
    ) -> HighlightTerms:
        """Return the terms of a query's operands, tokenized by `tokenize(text) -> tokens`, with
        the runs `runs(text)` finds in them (the unsegmented scripts' runs) as substrings."""
        exact: set[str] = set()
        prefixes: list[str] = []
        substrings: set[str] = set()
        for operand in operands:
            tokens = list(tokenize(operand.text))
            if operand.kind == "prefix" and tokens:
                prefixes.append(tokens.pop())
            exact.update(tokens)
            substrings.update(runs(operand.text))
        return cls(frozenset(exact), tuple(prefixes), substrings=tuple(sorted(substrings)))


def make_snippet(
    text: str,
    spans: Sequence[tuple[int, int, str]],
    terms: HighlightTerms,
    *,
    width: int = DEFAULT_WIDTH,
    marks: tuple[str, str] = DEFAULT_MARKS,
) -> str:
    """Return the best window of `width` tokens of text, query terms wrapped in marks.

    `spans` are the text's tokens as (start, end, token) character spans. The window holding
    the most distinct terms (rarer ones weigh more) wins, then the most hits, then the earliest.
    """
    if not spans:
        return _one_line(text[:200])
    hits = [terms.matches(token) for _, _, token in spans]
    first = _best_window(spans, hits, width, terms)
    last = min(first + width, len(spans)) - 1
    start = 0 if first == 0 else spans[first][0]
    end = len(text) if last == len(spans) - 1 else spans[last][1]
    pieces: list[str] = [ELLIPSIS if first > 0 else ""]
    cursor = start
    for i in range(first, last + 1):
        token_start, token_end, _ = spans[i]
        if hits[i]:
            pieces.append(text[cursor:token_start])
            pieces.append(_marked(text[token_start:token_end], spans[i][2], terms, marks))
            cursor = token_end
    pieces.append(text[cursor:end])
    if end < len(text):
        pieces.append(ELLIPSIS)
    return _one_line("".join(pieces))


def _marked(original: str, token: str, terms: HighlightTerms, marks: tuple[str, str]) -> str:
    """Return a hit token's text marked whole, or around the query's runs inside it."""
    if terms.whole(token):
        return marks[0] + original + marks[1]
    longest_first = sorted(terms.substrings, key=len, reverse=True)
    pattern = "|".join(re.escape(run) for run in longest_first)
    return re.sub(pattern, lambda found: marks[0] + found[0] + marks[1], original)


def _best_window(
    spans: Sequence[tuple[int, int, str]], hits: list[bool], width: int, terms: HighlightTerms
) -> int:
    """Return the first token index of the best window."""
    if not any(hits) or len(spans) <= width:
        return 0
    best_key: tuple[float, int] = (-1.0, -1)
    best = 0
    for first in range(0, len(spans) - width + 1):
        window = range(first, first + width)
        distinct = sum(terms.weight(t) for t in {spans[i][2] for i in window if hits[i]})
        key = (distinct, sum(hits[i] for i in window))
        if key > best_key:
            best_key, best = key, first
    # Slide the window so its hits keep some words of context before them.
    inside = [i for i in range(best, best + width) if hits[i]]
    start = max(inside[-1] - width + 1, inside[0] - width // 4, 0)
    return min(start, len(spans) - width)


def _one_line(text: str) -> str:
    return " ".join(text.split())
