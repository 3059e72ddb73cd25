"""A fast STAND-IN for all-MiniLM-L6-v2, for the scale benchmark only: hashed bag of words.

The scale benchmark measures what grows with the number of books (sensor ticks, Dagster's
partitions, index sizes, search, backups), not embedding quality, and on two shared cores the
real model would take most of a day for 1,000 books. This embedder keeps everything the index
sees the same shape — 384-d unit float32 vectors, one per chunk and per sentence span, cut by
the real MiniLM tokenizer — but each vector is a signed hash of the text's lower-cased words.
Its model id says so, so vectors it wrote are never mistaken for (or mixed with) MiniLM's: a
book run reuses only vectors of a previous bundle from the same model, and a projection
applies a bundle from another model without its vectors.

`install()` makes `EmbedderResource.model()` return it in this process; nothing else uses it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import numpy as np

from hbi.bundle.rows import ChunkVectors
from hbi.embedding.late_chunking import spans_seen
from hbi.embedding.tokenizer import MiniLMTokenizer

STANDIN_MODEL_ID = "benchmark-standin/hashed-bag-of-words-384 (NOT all-MiniLM-L6-v2)"
DIM = 384
_WORD = re.compile(r"\w+")


def hashed_vector(text: str) -> np.ndarray:
    """Give the unit 384-d signed-hash bag-of-words vector of text (a fixed axis if wordless)."""
    vector = np.zeros(DIM, np.float32)
    for word in _WORD.findall(text.lower()):
        digest = zlib.crc32(word.encode())
        vector[digest % DIM] += 1.0 if digest & 0x80000000 else -1.0
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return vector / norm


class HashedBagOfWordsEmbedder:
    """Stands in for MiniLMEmbedder: the same methods, the real tokenizer, hashed vectors."""

    model_id = STANDIN_MODEL_ID
    dim = DIM

    def __init__(self) -> None:
        self.tokenizer = MiniLMTokenizer.from_package()
        self.max_tokens = self.tokenizer.max_tokens

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Give an (n, 384) float32 array of unit vectors, row i standing for texts[i]."""
        vectors = np.empty((len(texts), DIM), np.float32)
        for row, text in enumerate(texts):
            vectors[row] = hashed_vector(text)
        return vectors

    def embed_chunks(self, texts: Sequence[str], batch_size: int = 32) -> list[ChunkVectors]:
        """Give each chunk's vector and one per sentence span, cut as MiniLMEmbedder cuts them."""
        return [self._chunk_vectors(text) for text in texts]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Give each text's word-piece count (the real tokenizer's)."""
        return self.tokenizer.count_tokens(texts)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Give the character span of every word piece of text (the real tokenizer's)."""
        return self.tokenizer.token_offsets(text)

    def _chunk_vectors(self, text: str) -> ChunkVectors:
        offsets = self.token_offsets(text)
        # The model reads at most max_tokens pieces, [CLS] and [SEP] included.
        spans = spans_seen(text, offsets, min(len(offsets), self.max_tokens - 2))
        sentences = np.zeros((len(spans), DIM), np.float32)
        for row, (first, end) in enumerate(spans):
            sentences[row] = hashed_vector(text[offsets[first][0] : offsets[end - 1][1]])
        return ChunkVectors(hashed_vector(text), sentences)


def install() -> HashedBagOfWordsEmbedder:
    """Make every EmbedderResource in this process load the stand-in instead of MiniLM, and
    the installed model's id (which the index projection keeps vectors of) be the stand-in's."""
    import hbi_assets.index
    from hbi.embedding import model_files
    from hbi_resources import embedder

    standin = HashedBagOfWordsEmbedder()
    hooks = ((embedder, "_load"), (model_files, "installed_model_id"))
    hooks += ((hbi_assets.index, "installed_model_id"),)
    for module, name in hooks:
        if not callable(getattr(module, name, None)):
            raise RuntimeError(f"{module.__name__}.{name} is gone: update the stand-in's hooks")
    embedder._load = lambda cache, threads: standin
    model_files.installed_model_id = hbi_assets.index.installed_model_id = lambda: standin.model_id
    return standin
