"""Sentence embeddings from all-MiniLM-L6-v2 on onnxruntime, without PyTorch."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import onnxruntime as ort

from hbi.embedding.model_files import ModelFiles
from hbi.embedding.numpy_forward import numpy_embed
from hbi.embedding.onnx_cache import cached_encoder_path, default_cache_dir
from hbi.embedding.tokenizer import MiniLMTokenizer, pad_batch

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

BatchRunner = Callable[[np.ndarray, np.ndarray], np.ndarray]


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
        self.model_id: str = f"{MODEL_NAME}@{self.files.weights_sha256[:12]}"
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
        return self._embed_by_length(texts, batch_size, self._run_onnx)

    def embed_with_numpy(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Give the same vectors as `embed`, computed by the NumPy forward pass (a cross-check)."""
        return self._embed_by_length(texts, batch_size, self._run_numpy)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Give each text's word-piece count, without special tokens and without truncation."""
        return self.tokenizer.count_tokens(texts)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Give the character span of every word piece of `text` (no specials, no truncation)."""
        return self.tokenizer.token_offsets(text)

    def _embed_by_length(
        self, texts: Sequence[str], batch_size: int, run: BatchRunner
    ) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        ids = self.tokenizer.model_ids(texts)
        vectors = np.empty((len(ids), self.dim), dtype=np.float32)
        # Texts of similar length share a batch, so padding (computed and thrown away) stays small.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            input_ids, attention_mask = pad_batch([ids[i] for i in rows])
            vectors[rows] = run(input_ids, attention_mask)
        return vectors

    def _run_onnx(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        return self._session.run(["sentence_embedding"], feeds)[0]

    def _run_numpy(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return numpy_embed(self._weights, self.config, input_ids, attention_mask)

    @cached_property
    def _weights(self) -> dict[str, np.ndarray]:
        return self.files.weights()
