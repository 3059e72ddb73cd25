"""The search tests' library: three corpus books through HBI's own pipeline.

Extracted, chunked, written and embedded exactly as the ingest assets do (prepare_book,
TextIndexResource.replace_book, MiniLMEmbedder.embed_chunks, VectorIndexResource.write_vectors).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hbi.book_id import book_id_for_key
from hbi.pipeline import prepare_book
from hbi.records import BookRows
from hbi_resources.text_index import TextIndexResource
from hbi_resources.vector_index import VectorIndexResource
from tests.conftest import shared_dir

LIBRARY_BOOKS = (
    "sun-tzu_the-art-of-war.md",
    "lewis-carroll_alices-adventures-in-wonderland.txt",
    "h-g-wells_the-time-machine.pdf",
)
WAR = book_id_for_key("sun-tzu_the-art-of-war.md")
ALICE = book_id_for_key("lewis-carroll_alices-adventures-in-wonderland.txt")
TIME_MACHINE = book_id_for_key("h-g-wells_the-time-machine.pdf")


@dataclass
class Library:
    """An index file and the rows each book wrote into it."""

    path: Path
    books: dict[str, BookRows]


def build_library(path: Path, model, names: tuple[str, ...] = LIBRARY_BOOKS) -> Library:
    """Index the named corpus books into path with text, sections and real embeddings."""
    text_index = TextIndexResource(path=str(path))
    vector_index = VectorIndexResource(path=str(path))
    books = {}
    for name in names:
        book_id = book_id_for_key(name)
        data = (shared_dir() / "corpus" / name).read_bytes()
        prepared = prepare_book(data, book_id=book_id, object_key=name, etag=None, tokenizer=model)
        text_index.replace_book(prepared.rows)
        chunks = prepared.rows.chunks
        vectors = model.embed_chunks([c.text for c in chunks])
        vector_index.write_vectors(
            book_id, model.model_id, {c.chunk_id: vectors[i] for i, c in enumerate(chunks)}
        )
        books[book_id] = prepared.rows
    return Library(path, books)
