"""Sentence vectors pooled from a chunk's own forward pass ("late chunking").

A chunk's vector is the mean of all its token states, so a query that quotes one sentence of
the chunk meets that sentence diluted by every sentence around it (on the shared corpus a
quoted sentence had cosine 0.30 with its own chunk and ranked it 63rd of ~6,000). Pooling the
same token states over just the sentence's tokens gives a vector for the sentence as read in
its context, at no extra model cost: Günther et al., "Late Chunking: Contextual Chunk
Embeddings Using Long-Context Embedding Models" (2024), pool the same way. For the quoted
sentences of The Time Machine, Pride and Prejudice and NIST SP 800-88 the best sentence vector
of the chunk had cosine 0.55, 0.64 and 0.74 with the query, its chunk vector 0.30, 0.50, 0.65.

Token row 0 of a sequence is [CLS] and the last unmasked row is [SEP]; word piece j of the
text is row j + 1. Neither special token belongs to any sentence, so neither is pooled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hbi.chunking import sentence_spans

# Bump when sentence_spans or the pooling changes: it is part of the embedder's model_id, so
# stored sentence vectors made by other rules are recomputed instead of mixed in.
SENTENCE_VECTORS_VERSION = 1
SPECIALS_BEFORE = 1  # [CLS]


def span_vectors(token_states: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Give the unit mean of the token states of each word-piece span [i, k), one row each.

    `token_states` is one sequence's (sequence, hidden) last-layer output, [CLS] first.
    """
    hidden = token_states.shape[-1]
    if not spans:
        return np.zeros((0, hidden), np.float32)
    pooled = np.stack(
        [token_states[SPECIALS_BEFORE + i : SPECIALS_BEFORE + k].mean(axis=0) for i, k in spans]
    )
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return (pooled / norms).astype(np.float32)


def spans_seen(
    text: str, offsets: Sequence[tuple[int, int]], pieces_seen: int
) -> list[tuple[int, int]]:
    """Give the text's sentence spans cut to the word pieces the model read (it truncates).

    A span past the truncation point is dropped, one across it is shortened; if one span or
    none is left, the text gets no sentence vectors.
    """
    spans = [(i, min(k, pieces_seen)) for i, k in sentence_spans(text, offsets) if i < pieces_seen]
    return spans if len(spans) > 1 else []
