"""Fixtures for extraction tests: the shared corpus (which must exist) and cached extractions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbi.books.book import ExtractedBook
from hbi.extract import extract_book

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOK_SUFFIXES = (".pdf", ".epub", ".txt", ".md")
MANIFEST = "MANIFEST.md"


def corpus_dir() -> Path:
    """The corpus folder: $HBI_SHARED_DIR/corpus, by default <repo>/../shared/corpus."""
    shared = Path(os.environ.get("HBI_SHARED_DIR", REPO_ROOT.parent / "shared"))
    return shared / "corpus"


def corpus_books() -> list[str]:
    """File names of the corpus books; a placeholder that fails the tests if there are none."""
    folder = corpus_dir()
    books = (
        sorted(p.name for p in folder.iterdir() if p.suffix in BOOK_SUFFIXES and p.name != MANIFEST)
        if folder.is_dir()
        else []
    )
    return books or [f"<no corpus books in {folder}>"]


@pytest.fixture(scope="session")
def extracted() -> dict[str, ExtractedBook]:
    """A cache of corpus extractions by file name, so each book is extracted once per session."""
    return {}


@pytest.fixture
def corpus_book(request: pytest.FixtureRequest, extracted: dict[str, ExtractedBook]):
    """(file name, ExtractedBook) for the parametrised corpus book; fails when it is missing."""
    name = request.param
    path = corpus_dir() / name
    if not path.is_file():
        pytest.fail(f"corpus book missing: {path} (set HBI_SHARED_DIR to the shared folder)")
    if name not in extracted:
        extracted[name] = extract_book(path.read_bytes(), name)
    return name, extracted[name]
