"""A distinctive sentence from a chapter of every shared book finds that book and chapter first."""

from __future__ import annotations

import json
import re

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from hbi.cli import cli
from hbi_resources.text_index import TextIndexResource
from tests.conftest import shared_dir

pytestmark = pytest.mark.integration

BOOKS = sorted(
    p.name for p in (shared_dir() / "corpus").iterdir() if p.is_file() and p.name != "MANIFEST.md"
)


def distinctive_sentence(book_id: str) -> tuple[str, dict]:
    """Return a long sentence from a chunk in the middle of the book's chapters, and the chunk."""
    chunks = [
        c for c in TextIndexResource().chunks(book_id) if c["section_id"] and not c["is_matter"]
    ]
    for chunk in chunks[len(chunks) // 2 :]:
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(chunk["text"].split()))
        long_ones = [s for s in sentences if 12 <= len(s.split()) <= 40]
        if long_ones:
            return max(long_ones, key=len), chunk
    raise AssertionError(f"{book_id}: no sentence of 12-40 words in its chapters")


def pdf_page_of(book_id: str, sentence: str) -> int:
    """Return the 1-based page of the PDF whose text holds the sentence (by pypdfium2 itself)."""
    squash = lambda text: re.sub(r"\W+", "", text).lower()  # noqa: E731
    target = squash(sentence)[:60]
    document = pdfium.PdfDocument(str(shared_dir() / "corpus" / book_id))
    for index in range(len(document)):
        if target in squash(document[index].get_textpage().get_text_range()):
            return index + 1
    raise AssertionError(f"{book_id}: sentence not found on any page")


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
@pytest.mark.parametrize("book_id", BOOKS)
def test_a_sentence_finds_its_book_and_chapter(ingested, book_id: str, mode: str) -> None:
    sentence, chunk = distinctive_sentence(book_id)
    result = CliRunner().invoke(cli, ["search", sentence, "--mode", mode, "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    top = json.loads(result.output)["hits"][0]
    assert top["book_id"] == book_id, (sentence, top)
    assert top["section_id"] == chunk["section_id"], (sentence, top)
    if book_id.endswith(".pdf"):
        page = pdf_page_of(book_id, sentence)
        assert top["page_start"] <= page <= top["page_end"], (page, top)
