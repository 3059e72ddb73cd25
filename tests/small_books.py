"""Tiny books for storage tests: rows built by HBI's chunker, random unit vectors per chunk."""

from __future__ import annotations

import re

import numpy as np

from hbi.book import BookMetadata, ExtractedBook, TocEntry
from hbi.chunking import chunk_book
from hbi.records import BookRows, ChunkVectors, build_rows
from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource

MODEL = "test-model+sentences.1"


class Words:
    """A tokenizer stand-in: one word piece per whitespace-separated word."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\S+", text)]


def book_rows(texts: list[str], book_id: str = "book") -> BookRows:
    """Return the rows of a book whose chunks are the given paragraphs, one section each."""
    text = ""
    toc = []
    for number, paragraph in enumerate(texts):
        toc.append(TocEntry(1, f"Part {number}", len(text)))
        text += paragraph + "\n\n"
    book = ExtractedBook("text", text, toc, BookMetadata(title="Book"))
    return build_rows(
        book_id=book_id,
        book=book,
        chunks=chunk_book(book, Words()),
        object_key=f"{book_id}.txt",
        etag=None,
        data=text.encode(),
    )


def random_vectors(rng: np.random.Generator, sentences: int) -> ChunkVectors:
    """Return a random unit chunk vector and `sentences` random unit sentence vectors."""
    rows = rng.standard_normal((1 + sentences, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return ChunkVectors.from_stacked(rows)


def index_book(
    indexes: tuple[TextIndexResource, VectorIndexResource], rows: BookRows, model: str = MODEL
) -> dict[int, ChunkVectors]:
    """Index the rows with vectors of 2 sentences per chunk; return the vectors written."""
    text_index, vector_index = indexes
    text_index.replace_book(rows)
    rng = np.random.default_rng(len(rows.chunks))
    vectors = {c.chunk_id: random_vectors(rng, 2) for c in rows.chunks}
    vector_index.write_vectors(rows.book.book_id, model, vectors)
    return vectors
