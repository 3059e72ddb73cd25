"""Sentence embeddings from all-MiniLM-L6-v2 on onnxruntime, without PyTorch."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hbi.bundle.rows import ChunkVectors
from hbi.embedding.late_chunking import span_vectors, spans_seen
from hbi.embedding.model_files import ModelFiles, model_id_of
from hbi.embedding.numpy_forward import numpy_embed
from hbi.embedding.onnx_cache import cached_encoder_path, default_cache_dir
from hbi.embedding.onnx_graph import SENTENCE_OUTPUT, TOKEN_OUTPUT
from hbi.embedding.tokenizer import MiniLMTokenizer, pad_batch

# (input_ids, attention_mask) -> (unit sentence embeddings, last-layer token states)
BatchRunner = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def available_cores() -> int:
    """Give the number of CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 as sentence-transformers computes it: 384-d, mean-pooled, unit length.

    The encoder graph is built from the packaged weights on first use and cached as an .onnx
    file, so later processes only hash the weights and load the graph.
    """

    def __init__(self, cache_dir: Path | None = None, threads: int | None = None):
        self.files = ModelFiles.from_package()
        self.config = self.files.config()
        self.dim: int = self.config.hidden_size
        self.max_tokens: int = self.config.max_seq_length
        self.model_id: str = model_id_of(self.files)
        self.tokenizer = MiniLMTokenizer(self.files.tokenizer_path, self.max_tokens)
        self.onnx_path = cached_encoder_path(self.files, cache_dir or default_cache_dir())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        # Idle workers sleep instead of spinning: the index shares its few cores with Neo4j,
        # MinIO and Dagster, and on a busy 2-core box spinning measured no faster.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(self.onnx_path), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Give an (n, dim) float32 array of unit vectors, row i embedding texts[i]."""
        return self._pooled(texts, batch_size, self._run_onnx)

    def embed_with_numpy(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Give the same vectors as `embed`, computed by the NumPy forward pass (a cross-check)."""
        return self._pooled(texts, batch_size, lambda *batch: self._run_numpy(*batch)[0])

    def embed_chunks(self, texts: Sequence[str], batch_size: int = 32) -> list[ChunkVectors]:
        """Give each chunk text's vector (as `embed`) and its sentences' vectors, one pass each.

        Sentence vectors are pooled from the chunk's token states (hbi/embedding/late_chunking.py).
        """
        return self._embed_chunks(texts, batch_size, self._run_onnx_with_tokens)

    def embed_chunks_with_numpy(
        self, texts: Sequence[str], batch_size: int = 32
    ) -> list[ChunkVectors]:
        """Give the same as `embed_chunks`, computed by the NumPy forward pass (a cross-check)."""
        return self._embed_chunks(texts, batch_size, self._run_numpy)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Give each text's word-piece count, without special tokens and without truncation."""
        return self.tokenizer.count_tokens(texts)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Give the character span of every word piece of `text` (no specials, no truncation)."""
        return self.tokenizer.token_offsets(text)

    def _batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """Yield (rows of texts, input_ids, attention_mask), texts of similar length together."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        ids = self.tokenizer.model_ids(texts)
        # Texts of similar length share a batch, so padding (computed and thrown away) stays small.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            yield rows, *pad_batch([ids[i] for i in rows])

    def _pooled(
        self, texts: Sequence[str], batch_size: int, run: Callable[..., np.ndarray]
    ) -> np.ndarray:
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows, input_ids, attention_mask in self._batches(texts, batch_size):
            vectors[rows] = run(input_ids, attention_mask)
        return vectors

    def _embed_chunks(
        self, texts: Sequence[str], batch_size: int, run: BatchRunner
    ) -> list[ChunkVectors]:
        found: dict[int, ChunkVectors] = {}
        for rows, input_ids, attention_mask in self._batches(texts, batch_size):
            vectors, states = run(input_ids, attention_mask)
            lengths = attention_mask.sum(axis=1)
            for at, row in enumerate(rows):
                text = texts[row]
                # The model read every piece but [CLS] and [SEP], up to its truncation.
                spans = spans_seen(text, self.token_offsets(text), int(lengths[at]) - 2)
                found[row] = ChunkVectors(vectors[at], span_vectors(states[at], spans))
        return [found[row] for row in range(len(texts))]

    def _run_onnx(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        return self._session.run([SENTENCE_OUTPUT], feeds)[0]

    def _run_onnx_with_tokens(
        self, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        vectors, states = self._session.run([SENTENCE_OUTPUT, TOKEN_OUTPUT], feeds)
        return vectors, states

    def _run_numpy(
        self, input_ids: np.ndarray, attention_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return numpy_embed(self._weights, self.config, input_ids, attention_mask)

    @cached_property
    def _weights(self) -> dict[str, np.ndarray]:
        return self.files.weights()
