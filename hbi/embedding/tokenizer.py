"""WordPiece tokenisation for MiniLM: padded id batches for the model, offsets for the chunker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from hbi.embedding.model_files import ModelFiles


class MiniLMTokenizer:
    """The model's tokenizer.json, set up twice: truncating for the model, exact for counting."""

    def __init__(self, tokenizer_path: Path, max_tokens: int):
        self.max_tokens = max_tokens
        # tokenizer.json ships with truncation at 128 and fixed padding to 128;
        # sentence-transformers overrides both with max_seq_length, and so do we.
        self._model_side = Tokenizer.from_file(str(tokenizer_path))
        self._model_side.enable_truncation(max_length=max_tokens)
        self._model_side.no_padding()
        self._exact = Tokenizer.from_file(str(tokenizer_path))
        self._exact.no_truncation()
        self._exact.no_padding()

    @classmethod
    def from_package(cls) -> MiniLMTokenizer:
        """Give the tokenizer of the installed model package, without loading the model."""
        files = ModelFiles.from_package()
        return cls(files.tokenizer_path, files.config().max_seq_length)

    def model_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Give each text's ids as the model sees them: [CLS] … [SEP], at most max_tokens long."""
        return [encoding.ids for encoding in self._model_side.encode_batch(list(texts))]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Give each text's word-piece count without special tokens and without truncation."""
        encodings = self._exact.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Give the [start, end) character span in `text` of every word piece, in order."""
        return self._exact.encode(text, add_special_tokens=False).offsets


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Give right-padded (input_ids, attention_mask) int64 arrays for a batch of id lists."""
    width = max(len(ids) for ids in sequences)
    input_ids = np.zeros((len(sequences), width), dtype=np.int64)  # 0 is [PAD]
    attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask
