"""OCR of PDF pages without a text layer, through the extractor (capped child and Tesseract).

The scans are made here from a corpus PDF: its pages rendered to grey images and written into
a new PDF with no text, so every sentence read back can be checked against the original's
text layer. The 12-page scan also goes on through chunking, embedding and an index (no servers)
to show each page's sentence finds that page first in hybrid search.
"""

from __future__ import annotations

import pytest

from hbi.bundle.build import bundle_rows, prepare_book
from hbi.bundle.files import bundle_fingerprint
from hbi.embedding import MiniLMEmbedder
from hbi.errors import NoTextLayerError
from hbi.extract import extract_book
from hbi.extract.pdf_ocr import OCR_LANGS_ENV
from hbi.index.db import connect
from hbi.index.writer import ProjectedBook, apply_books
from hbi.search import LibrarySearch
from tests.extract.conftest import corpus_dir
from tests.extract.ocr_samples import (
    TIME_MACHINE,
    fuzzy_contains,
    normalise,
    page_sentence,
    scan_pages,
    text_and_scan_pages,
)

BOOK_ID = "scanned-time-machine.pdf"


@pytest.fixture(scope="module")
def source():
    path = corpus_dir() / TIME_MACHINE
    assert path.is_file(), f"{path} is missing: the OCR tests need the shared corpus"
    return path


def page_text(book, number: int) -> str:
    page = book.pages[number - 1]
    return normalise(book.text[page.start : page.end])


def test_twelve_scanned_pages_are_read_into_their_pages_and_found_there_by_search(source, tmp_path):
    model = MiniLMEmbedder()
    # The path `book_bundle` takes, without the object store: extract (capped child, OCR),
    # chunk, build rows, embed, then project the bundle into a fresh index and search it.
    prepared = prepare_book(
        scan_pages(source, list(range(1, 13))),
        book_id=BOOK_ID,
        object_key=BOOK_ID,
        etag=None,
        tokenizer=model,
    )
    book = prepared.book
    assert book.ocr_pages == list(range(1, 13))
    assert book.ocr_confidence is not None and book.ocr_confidence > 80
    assert any(
        w.startswith("OCR read 12 of 12 pages (1-12), mean confidence") for w in book.warnings
    )
    assert prepared.rows.book.warnings == book.warnings
    sentences = {number: page_sentence(source, number) for number in range(1, 13)}
    for number, sentence in sentences.items():
        score = fuzzy_contains(page_text(book, number), sentence)
        assert score >= 0.9, (number, score, sentence)
    # The chapter headings are found on OCR'd pages as on the text PDF's pages. Tesseract may
    # drop a stroke of the lone "III", so its title is not compared.
    assert book.toc_derived
    assert [entry.page for entry in book.toc] == [1, 7, 10]
    assert [entry.title for entry in book.toc][:2] == ["I", "II"]

    bundle, _ = bundle_rows(prepared.rows, model.embed_chunks, model.model_id, {})
    index = str(tmp_path / "index.sqlite")
    apply_books(connect(index), [ProjectedBook(bundle, bundle_fingerprint(bundle))])
    search = LibrarySearch(index, embed=model.embed)
    try:
        for number, sentence in sentences.items():
            top = search.search(sentence, mode="hybrid", k=1).hits[0]
            assert top.page_start <= number <= top.page_end, (number, sentence, top)
    finally:
        search.close()


def test_pdf_mixing_text_pages_and_scanned_pages_gets_text_for_all(source):
    book = extract_book(text_and_scan_pages(source, [1, 2], [3, 4]), "mixed.pdf")
    assert book.ocr_pages == [3, 4]
    assert "OCR read 2 of 4 pages (3-4)" in " ".join(book.warnings)
    for number in range(1, 5):
        assert fuzzy_contains(page_text(book, number), page_sentence(source, number)) >= 0.9


def test_blank_scanned_page_stays_empty_with_a_warning(source):
    book = extract_book(scan_pages(source, [5, None]), "with-blank.pdf")
    assert book.ocr_pages == [1]
    assert book.pages[1].start == book.pages[1].end
    assert "OCR found no text on page 2" in book.warnings
    assert "1 of 2 pages have no text layer" in book.warnings


def test_pdf_of_blank_scans_only_fails_with_no_text_layer():
    with pytest.raises(
        NoTextLayerError,
        match=r"blank\.pdf: no text layer: none of the 2 pages has extractable text, "
        r"even after OCR$",
    ):
        extract_book(scan_pages(corpus_dir() / TIME_MACHINE, [None, None]), "blank.pdf")


def test_scanned_pdf_without_tesseract_fails_saying_tesseract_is_needed(
    source, monkeypatch, tmp_path
):
    # The capped child finds programs on PATH: an empty one is a machine without Tesseract.
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        NoTextLayerError, match=r"scan\.pdf: no text layer: 1 of 1 pages .*tesseract"
    ):
        extract_book(scan_pages(source, [6]), "scan.pdf")


def test_ocr_languages_come_from_the_environment(source, monkeypatch):
    monkeypatch.setenv(OCR_LANGS_ENV, "qqq")
    with pytest.raises(
        NoTextLayerError,
        match=r"even after OCR \(tesseract -l qqq failed: Failed loading language 'qqq'\)",
    ):
        extract_book(scan_pages(source, [6]), "scan.pdf")
