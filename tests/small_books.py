"""Tiny books for index tests: rows built by HBI's chunker, bundles with random unit vectors."""

from __future__ import annotations

import re

import numpy as np

from hbi.books.book import BookMetadata, ExtractedBook, TocEntry
from hbi.bundle.build import bundle_rows
from hbi.bundle.files import BookBundle, bundle_fingerprint
from hbi.bundle.rows import BookRows, ChunkVectors, build_rows
from hbi.chunking import chunk_book
from hbi.index.writer import ProjectedBook

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


def small_bundle(rows: BookRows, model: str = MODEL, seed: int = 0) -> BookBundle:
    """Return the rows' bundle with random vectors, 2 sentences per chunk."""
    rng = np.random.default_rng(seed)
    bundle, _ = bundle_rows(
        rows, lambda texts: [random_vectors(rng, 2) for _ in texts], model, known={}
    )
    return bundle


def projected(bundle: BookBundle, **kwargs) -> ProjectedBook:
    """Return the bundle as the writer takes it, under its own fingerprint."""
    return ProjectedBook(bundle, bundle_fingerprint(bundle), **kwargs)
