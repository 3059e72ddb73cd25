"""PDF extraction on hand-made and damaged PDFs: errors are typed and name the book and problem."""

from __future__ import annotations

import io
import time

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from hbi.errors import CorruptBookError, EncryptedBookError, NoTextLayerError
from hbi.extract import extract_book
from tests.extract.conftest import corpus_dir
from tests.extract.extract_samples import Bookmark, Run, body_lines, build_pdf, scanned_pdf

TWO_CHAPTERS = [
    [Run(72, 700, "Chapter One", 20, True)]
    + body_lines(670, ["The first chapter starts on this line and", "ends on this one."]),
    [Run(72, 700, "Chapter Two", 20, True)]
    + body_lines(670, ["The second chapter is short.", "It has two lines."]),
]


def corpus_pdf(name: str = "h-g-wells_the-time-machine.pdf") -> bytes:
    path = corpus_dir() / name
    assert path.is_file(), f"corpus PDF missing: {path}"
    return path.read_bytes()


def without_outline(data: bytes) -> bytes:
    """The same pages in a new document: pdfium copies pages but not the outline."""
    source = pdfium.PdfDocument(data)
    copy = pdfium.PdfDocument.new()
    copy.import_pages(source)
    out = io.BytesIO()
    copy.save(out)
    return out.getvalue()


def test_pdf_cut_in_half_is_corrupt():
    data = corpus_pdf()
    with pytest.raises(
        CorruptBookError, match=r"half\.pdf: corrupt file: the PDF cannot be parsed"
    ):
        extract_book(data[: len(data) // 2], "half.pdf")


def test_garbage_after_a_pdf_header_is_corrupt():
    with pytest.raises(CorruptBookError, match=r"junk\.pdf: .*cannot be parsed"):
        extract_book(b"%PDF-1.7\n" + bytes(range(256)) * 40, "junk.pdf")


def test_pdf_needing_a_password_is_encrypted():
    data = build_pdf(TWO_CHAPTERS, encrypt=("secret", "owner"))
    with pytest.raises(EncryptedBookError, match=r"locked\.pdf: encrypted: .*password"):
        extract_book(data, "locked.pdf")


def test_pdf_encrypted_with_an_empty_user_password_opens():
    book = extract_book(build_pdf(TWO_CHAPTERS, encrypt=("", "owner")), "restricted.pdf")
    assert "The first chapter starts on this line and ends on this one." in book.text


def test_pdf_with_only_a_drawn_rectangle_has_no_text_layer():
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(612, 792)
    rectangle = pdfium_c.FPDFPageObj_CreateNewRect(72, 72, 300, 200)
    pdfium_c.FPDFPath_SetDrawMode(rectangle, pdfium_c.FPDF_FILLMODE_ALTERNATE, True)
    pdfium_c.FPDFPage_InsertObject(page, rectangle)
    assert pdfium_c.FPDFPage_GenerateContent(page)
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(NoTextLayerError, match=r"scan\.pdf: no text layer"):
        extract_book(out.getvalue(), "scan.pdf")


def test_pdf_of_scanned_page_images_has_no_text_layer_and_is_not_empty():
    with pytest.raises(NoTextLayerError, match=r"scanned\.pdf: no text layer: none of the 2 pages"):
        extract_book(scanned_pdf(pages=2), "scanned.pdf")


def test_scanned_pages_among_text_pages_are_counted_in_a_warning():
    text_pdf = pdfium.PdfDocument(build_pdf(TWO_CHAPTERS))
    text_pdf.import_pages(pdfium.PdfDocument(scanned_pdf(pages=1)))
    out = io.BytesIO()
    text_pdf.save(out)
    book = extract_book(out.getvalue(), "mixed.pdf")
    assert "The second chapter is short." in book.text
    assert "1 of 3 pages have no text layer" in book.warnings


def test_outline_entries_point_at_their_titles_on_their_pages():
    outline = [
        Bookmark("Chapter One", 0, (Bookmark("Second line", 0),)),
        Bookmark("Chapter Two", 1),
    ]
    book = extract_book(build_pdf(TWO_CHAPTERS, outline=outline), "book.pdf")
    assert [(e.level, e.title, e.page) for e in book.toc] == [
        (1, "Chapter One", 1),
        (2, "Second line", 1),
        (1, "Chapter Two", 2),
    ]
    assert not book.toc_derived
    assert book.text.startswith("Chapter Two", book.toc[2].offset)
    # A title missing from its page falls back to the page (or the previous entry on it).
    assert book.toc[1].offset == book.toc[0].offset
    assert any("not found on their page" in w for w in book.warnings)


def test_outline_with_cycles_terminates_and_keeps_each_bookmark_once():
    book = extract_book(
        build_pdf(
            TWO_CHAPTERS,
            outline=[Bookmark("Chapter One", 0), Bookmark("Chapter Two", 1)],
            outline_cycle=True,
        ),
        "cycle.pdf",
    )
    assert [e.title for e in book.toc] == ["Chapter One", "Chapter Two"]
    assert any("cycle" in w for w in book.warnings)


def test_outline_targets_past_the_last_page_are_dropped():
    outline = [
        Bookmark("Chapter One", 0),
        Bookmark("Far away", "[99 /Fit]"),
        Bookmark("Nowhere", "[/XYZ]"),
    ]
    book = extract_book(build_pdf(TWO_CHAPTERS, outline=outline), "far.pdf")
    assert [e.title for e in book.toc] == ["Chapter One"]
    assert any("past the last page" in w for w in book.warnings)
    assert any("no target" in w for w in book.warnings)


def test_outline_nested_past_the_depth_limit_is_cut_there():
    nested = Bookmark("Level 20", 1)
    for level in range(19, 0, -1):
        nested = Bookmark(f"Level {level}", 0, (nested,))
    book = extract_book(build_pdf(TWO_CHAPTERS, outline=[nested]), "deep.pdf")
    assert [e.level for e in book.toc] == list(range(1, 17))
    assert any("too deep" in w for w in book.warnings)


def test_line_of_dot_leaders_is_laid_out_in_linear_time():
    # 30,000 dots (pdfium keeps up to 32,767 characters of a string): the contents-line
    # pattern used to rescan the line from every dot, for minutes.
    line = "Contents " + "." * 30_000 + "x" * 20
    pages = [[Run(72, 700, line), Run(72, 686, "and more words")]]
    started = time.monotonic()
    book = extract_book(build_pdf(pages), "leaders.pdf")
    assert book.text.endswith("x" * 20 + " and more words")
    assert time.monotonic() - started < 10


def test_page_labels_are_reported_per_page_and_entry():
    labels = b"0 << /S /r >> 1 << /S /D /St 5 >>"
    book = extract_book(build_pdf(TWO_CHAPTERS, page_labels=labels), "labels.pdf")
    assert [p.label for p in book.pages] == ["i", "5"]
    assert [e.page_label for e in book.toc] == ["i", "5"]


def test_pdf_without_labels_has_no_page_labels():
    book = extract_book(build_pdf(TWO_CHAPTERS), "plain.pdf")
    assert [p.label for p in book.pages] == [None, None]


def test_heading_toc_is_derived_from_type_size_without_an_outline():
    book = extract_book(build_pdf(TWO_CHAPTERS), "derived.pdf")
    assert book.toc_derived
    assert [(e.level, e.title, e.page) for e in book.toc] == [
        (1, "Chapter One", 1),
        (1, "Chapter Two", 2),
    ]


def test_time_machine_without_its_outline_gets_the_same_toc_by_heading_size():
    book = extract_book(without_outline(corpus_pdf()), "time-machine-no-outline.pdf")
    assert book.toc_derived
    assert [e.title for e in book.toc] == [
        *["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"],
        "Epilogue",
        "Endnotes",
        "Uncopyright",
    ]
    assert [e.page for e in book.toc] == [1, 7, 10, 13, 19, 29, 33, 37, 40, 44, 46, 49, 52, 53, 53]


def test_numbered_bold_headings_are_derived_with_their_depth():
    data = without_outline(corpus_pdf("nist-ir-8202_blockchain-technology-overview.pdf"))
    book = extract_book(data, "nistir-no-outline.pdf")
    found = {(e.level, e.title, e.page) for e in book.toc}
    assert (1, "1 Introduction", 12) in found
    assert (2, "1.1 Background and History", 13) in found
    assert (3, "3.1.1 Cryptographic Nonce", 20) in found
    assert len(found) < 60


def test_paragraph_running_over_a_page_break_is_joined():
    pages = [
        body_lines(700, ["A sentence that does not end on this page and"]),
        body_lines(700, ["continues on the next one."]),
    ]
    book = extract_book(build_pdf(pages), "runon.pdf")
    assert book.text == "A sentence that does not end on this page and continues on the next one."
    assert book.text[book.pages[1].start :] == "continues on the next one."


def test_info_dictionary_gives_title_and_split_authors():
    book = extract_book(build_pdf(TWO_CHAPTERS, title="A Title"), "info.pdf")
    assert book.metadata.title == "A Title"
    assert book.metadata.authors == ("Ada Example", "Ben Sample")
