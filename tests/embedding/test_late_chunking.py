"""Sentence vectors are unit means of a sentence's token states, [CLS] and [SEP] left out."""

from __future__ import annotations

import re

import numpy as np

from hbi.embedding.late_chunking import span_vectors, spans_seen


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_a_span_of_word_pieces_pools_the_rows_after_cls() -> None:
    states = np.arange(6 * 4, dtype=np.float32).reshape(6, 4)  # [CLS], 4 pieces, [SEP]
    pooled = span_vectors(states, [(0, 2), (2, 4)])
    np.testing.assert_allclose(pooled[0], unit(states[1:3].mean(axis=0)), rtol=1e-6)
    np.testing.assert_allclose(pooled[1], unit(states[3:5].mean(axis=0)), rtol=1e-6)
    assert pooled.dtype == np.float32


def test_no_spans_give_an_empty_matrix_of_the_hidden_width() -> None:
    assert span_vectors(np.ones((5, 384), np.float32), []).shape == (0, 384)


def test_spans_past_the_models_truncation_are_cut_or_dropped() -> None:
    text = " ".join(f"w{i}" + ("." if i % 10 == 9 else "") for i in range(40))
    offsets = [m.span() for m in re.finditer(r"\S+", text)]
    assert spans_seen(text, offsets, 40) == [(0, 10), (10, 20), (20, 30), (30, 40)]
    assert spans_seen(text, offsets, 25) == [(0, 10), (10, 20), (20, 25)]
    assert spans_seen(text, offsets, 12) == [(0, 10), (10, 12)]
    assert spans_seen(text, offsets, 10) == []
