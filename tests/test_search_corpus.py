"""A distinctive sentence from a chapter of every shared book finds that book and chapter first,
in every search mode, through the CLI and through the HTTP API."""

from __future__ import annotations

import json
import re

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from hbi.api import create_app
from hbi.cli import cli
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from tests.conftest import shared_dir

pytestmark = pytest.mark.integration

BOOKS = sorted(
    p.name for p in (shared_dir() / "corpus").iterdir() if p.is_file() and p.name != "MANIFEST.md"
)


def distinctive_sentence(book_id: str) -> tuple[str, dict]:
    """Return a long sentence from a chunk in the middle of the book's chapters, and the chunk."""
    indexed = reads.chunks(connect(default_index_path()), book_id)
    chunks = [c for c in indexed if c["section_id"] and not c["is_matter"]]
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


@pytest.fixture(scope="module")
def api(ingested) -> TestClient:
    return TestClient(create_app(api_key=""))


def top_hit(surface: str, api: TestClient, sentence: str, mode: str) -> dict:
    """Return the first hit for the sentence through the CLI or the HTTP API."""
    if surface == "cli":
        result = CliRunner().invoke(cli, ["search", sentence, "--mode", mode, "-k", "3", "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["hits"][0]
    response = api.get("/search", params={"q": sentence, "mode": mode, "k": 3})
    assert response.status_code == 200, response.text
    return response.json()["hits"][0]


@pytest.mark.parametrize("surface", ["cli", "http"])
@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
@pytest.mark.parametrize("book_id", BOOKS)
def test_a_sentence_finds_its_book_and_chapter(
    api: TestClient, book_id: str, mode: str, surface: str
) -> None:
    sentence, chunk = distinctive_sentence(book_id)
    top = top_hit(surface, api, sentence, mode)
    assert top["book_id"] == book_id, (sentence, top)
    assert top["section_id"] == chunk["section_id"], (sentence, top)
    if book_id.endswith(".pdf"):
        page = pdf_page_of(book_id, sentence)
        assert top["page_start"] <= page <= top["page_end"], (page, top)
