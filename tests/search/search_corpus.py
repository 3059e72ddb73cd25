"""The search tests' library: three corpus books through HBI's own pipeline.

Each book is extracted, chunked and embedded into its bundle as the book_bundle asset does
(`prepare_book`, `bundle_rows`), and the bundles are written into the index through the one
write path the projection uses (`hbi.index.writer.apply_books`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hbi.books.ids import book_id_for_key
from hbi.bundle.build import bundle_rows, prepare_book
from hbi.bundle.files import BookBundle, bundle_fingerprint
from hbi.bundle.rows import BookRows
from hbi.index.db import connect
from hbi.index.writer import ProjectedBook, apply_books
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
    """An index file, the rows each book wrote into it and the bundles they came from."""

    path: Path
    books: dict[str, BookRows]
    bundles: dict[str, BookBundle]


def build_library(path: Path, model, names: tuple[str, ...] = LIBRARY_BOOKS) -> Library:
    """Bundle the named corpus books with real embeddings and apply them to the index at path."""
    books: dict[str, BookRows] = {}
    bundles: dict[str, BookBundle] = {}
    for name in names:
        book_id = book_id_for_key(name)
        data = (shared_dir() / "corpus" / name).read_bytes()
        prepared = prepare_book(data, book_id=book_id, object_key=name, etag="", tokenizer=model)
        bundle, _ = bundle_rows(prepared.rows, model.embed_chunks, model.model_id, {})
        books[book_id] = prepared.rows
        bundles[book_id] = bundle
    connection = connect(path)
    try:
        apply_books(connection, [ProjectedBook(b, bundle_fingerprint(b)) for b in bundles.values()])
    finally:
        connection.close()
    return Library(path, books, bundles)
