"""BM25 exactly as FTS5's built-in `bm25()` computes it, for re-scoring a few passages in Python.

FTS5 (ext/fts5/fts5_aux.c) scores a row against query phrases p as

    score = sum_p idf(p) * f(p) * (k1 + 1) / (f(p) + k1 * (1 - b + b * D / avgdl))

with k1 = 1.2, b = 0.75, f(p) the phrase's hits in the row weighted by column, D the row's
token count over all columns, avgdl the mean of D over the table, and
idf(p) = ln((N - n(p) + 0.5) / (n(p) + 0.5)) floored at 1e-6, n(p) the rows holding p. `bm25()`
returns the negated sum; HBI reports the sum (higher is better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6


@dataclass(frozen=True)
class ColumnWeights:
    """How much a hit counts in each chunks_fts column: titles above body text."""

    text: float = 1.0
    section_path: float = 4.0
    book_title: float = 2.0

    def as_tuple(self) -> tuple[float, float, float]:
        """Return the weights in chunks_fts column order, as bm25() takes them."""
        return (self.text, self.section_path, self.book_title)


@dataclass(frozen=True)
class CorpusStats:
    """The table-wide numbers BM25 needs: rows and the average row length in tokens."""

    rows: int
    total_tokens: int

    @property
    def average_length(self) -> float:
        return self.total_tokens / self.rows if self.rows else 0.0


def idf(stats: CorpusStats, doc_count: int) -> float:
    """Return FTS5's inverse document frequency of a phrase found in doc_count rows."""
    value = math.log((stats.rows - doc_count + 0.5) / (doc_count + 0.5))
    return value if value > 0.0 else IDF_FLOOR


def upper_bound(term_idf: float) -> float:
    """Return the most one phrase can add to any row's score (its hits tending to infinity)."""
    return term_idf * (K1 + 1.0)


def score(
    frequencies: Sequence[float], idfs: Sequence[float], length: int, stats: CorpusStats
) -> float:
    """Return the BM25 score of a row from its weighted phrase frequencies and token count."""
    norm = K1 * (1.0 - B + B * length / stats.average_length) if stats.average_length else K1
    total = 0.0
    for frequency, term_idf in zip(frequencies, idfs, strict=True):
        total += term_idf * (frequency * (K1 + 1.0)) / (frequency + norm)
    return total


def weighted_frequencies(
    columns: Sequence[Sequence[str]], terms: Sequence[str], weights: ColumnWeights
) -> tuple[list[float], int]:
    """Return each term's column-weighted hit count in a row's tokenized columns, and its length."""
    frequencies = [0.0] * len(terms)
    position = {term: i for i, term in enumerate(terms)}
    for tokens, weight in zip(columns, weights.as_tuple(), strict=True):
        for token in tokens:
            i = position.get(token)
            if i is not None:
                frequencies[i] += weight
    return frequencies, sum(len(tokens) for tokens in columns)
