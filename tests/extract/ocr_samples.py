"""Scanned-looking PDFs made from a corpus PDF: its pages rendered to images, no text layer."""

from __future__ import annotations

import difflib
import io
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

TIME_MACHINE = "h-g-wells_the-time-machine.pdf"
# Scans of books are usually 200-400 dpi; 200 keeps the test PDFs small (about 4 MB a page).
SCAN_DPI = 200
_SENTENCE = re.compile(r"[A-Z][^.!?]{50,160}[.!?]")


def _add_image_page(pdf: pdfium.PdfDocument, bitmap: pdfium.PdfBitmap, width: float, height: float):
    page = pdf.new_page(width, height)
    image = pdfium.PdfImage.new(pdf)
    image.set_bitmap(bitmap)
    image.set_matrix(pdfium.PdfMatrix().scale(width, height))
    page.insert_obj(image)
    page.gen_content()
    page.close()


def scan_pages(source: Path, pages: list[int | None]) -> bytes:
    """A PDF of images of `source`'s pages (1-based numbers); None makes a blank white page."""
    original = pdfium.PdfDocument(source)
    out_pdf = pdfium.PdfDocument.new()
    for number in pages:
        if number is None:
            width, height = 612.0, 792.0
            bitmap = pdfium.PdfBitmap.new_native(850, 1100, pdfium_c.FPDFBitmap_Gray)
            bitmap.fill_rect((255, 255, 255, 255), 0, 0, 850, 1100)
        else:
            page = original[number - 1]
            width, height = page.get_size()
            bitmap = page.render(scale=SCAN_DPI / 72, grayscale=True)
            page.close()
        _add_image_page(out_pdf, bitmap, width, height)
    buffer = io.BytesIO()
    out_pdf.save(buffer)
    return buffer.getvalue()


def text_and_scan_pages(source: Path, text_pages: list[int], scanned: list[int]) -> bytes:
    """A PDF with `text_pages` of `source` as they are, then images of the `scanned` pages."""
    mixed = pdfium.PdfDocument.new()
    mixed.import_pages(pdfium.PdfDocument(source), [n - 1 for n in text_pages])
    mixed.import_pages(pdfium.PdfDocument(scan_pages(source, scanned)))
    buffer = io.BytesIO()
    mixed.save(buffer)
    return buffer.getvalue()


def normalise(text: str) -> str:
    """Case, quotes and whitespace evened out, so OCR text compares with a text layer's."""
    text = text.translate(str.maketrans("“”‘’", "\"\"''")).replace("\ufffe", "-")
    return " ".join(text.casefold().split())


def page_sentence(source: Path, number: int) -> str:
    """A whole sentence from the middle of the page's text layer, normalised."""
    page = pdfium.PdfDocument(source)[number - 1]
    text = page.get_textpage().get_text_range()
    # A sentence broken at a hyphen cannot be compared reliably: skip those.
    candidates = [m[0] for m in _SENTENCE.finditer(" ".join(text.split())) if "\ufffe" not in m[0]]
    assert candidates, f"page {number} has no sentence to look for"
    return normalise(candidates[len(candidates) // 2])


def fuzzy_contains(haystack: str, needle: str, threshold: float = 0.9) -> float:
    """The best similarity (0-1) of `needle` to a window of `haystack` starting at a word."""
    best = 0.0
    if needle in haystack:
        return 1.0
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(needle)
    starts = [0] + [m.end() for m in re.finditer(" ", haystack)]
    for start in starts:
        matcher.set_seq1(haystack[start : start + len(needle) + 5])
        if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
            continue
        best = max(best, matcher.ratio())
    return best
