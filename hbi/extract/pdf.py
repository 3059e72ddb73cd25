"""PDF books through pdfium: text per page, printed page labels, outline or derived ToC.

Running headers, footers and page numbers are dropped: a line in the page margins (top or
bottom 10%, or rotated) whose text, digits aside, recurs on at least 30% of the pages (and
three pages). All lone page numbers (arabic or roman) count as one such text, so a chapter
heading "II" at the top of a page stays unless folios fill the margins of most pages. A
paragraph that runs on from the previous page (no sentence end there, a lowercase start here)
is joined to it, so that page's span starts mid-paragraph.

Pages with no text layer (scans) are read by Tesseract (hbi/extract/pdf_ocr.py) and then go
through the same steps as text pages. Which pages were OCR'd, and the mean word confidence,
are kept on the book and told in a warning, which travels wherever warnings do.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections import Counter

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from hbi.books.book import (
    BookMetadata,
    ExtractedBook,
    IndexTerm,
    PageSpan,
    TocEntry,
    page_ranges,
)
from hbi.errors import BookTooLargeError, CorruptBookError, EncryptedBookError, NoTextLayerError
from hbi.extract.backindex import INDEX_TITLE, IndexLine, indents_from_columns, parse_index_lines
from hbi.extract.book_text import BookTextBuilder, clean_title
from hbi.extract.limits import ExtractLimits
from hbi.extract.pdf_headings import PdfParagraph, derive_toc
from hbi.extract.pdf_layout import PdfLine, group_paragraphs, join_lines, page_lines
from hbi.extract.pdf_ocr import ocr_langs, ocr_pages, ocr_workers, render_pgm, tesseract_path
from hbi.extract.pdf_outline import locate_outline, read_outline

_PDFIUM_LOCK = threading.Lock()
_MARGIN = 0.10
_FURNITURE_SHARE = 0.30
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?(?:\d{1,5}|[ivxlcdm]{1,7})(?:\s+of\s+\d{1,5})?$", re.IGNORECASE
)
_DIGITS = re.compile(r"\d+")
_RUNS_ON = re.compile(r"[^.!?:;\"”’)\]]$")
_BY_LINE = re.compile(r"^by\s+(?P<names>[A-Z][\w.’' -]{1,80})$")
_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})?(\d{2})?")


def extract_pdf(data: bytes, name: str, limits: ExtractLimits) -> ExtractedBook:
    """The PDF's text page by page, with its outline (or headings) as the ToC."""
    # pdfium is not thread-safe: two threads inside it at once can crash the process.
    with _PDFIUM_LOCK:
        pdf = _open(data, name)
        try:
            return _extract(pdf, name, limits)
        finally:
            pdf.close()


def _open(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        # No password means pdfium tries the empty user password, which many "encrypted"
        # PDFs (printing or copying restrictions only) open with.
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedBookError(name, "the PDF needs a password to open") from exc
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise EncryptedBookError(name, "the PDF uses an unsupported security handler") from exc
        raise CorruptBookError(name, f"the PDF cannot be parsed ({exc})") from exc


def _extract(pdf: pdfium.PdfDocument, name: str, limits: ExtractLimits) -> ExtractedBook:
    warnings: list[str] = []
    page_count = len(pdf)
    if page_count > limits.max_pages:
        raise BookTooLargeError(
            name, f"PDF has {page_count:,} pages; the limit is {limits.max_pages:,}"
        )
    layouts = [_read_page(pdf, index, warnings) for index in range(page_count)]
    if all(lines is None for lines, _ in layouts):
        raise CorruptBookError(name, "no page of the PDF could be loaded")
    ocr_read, ocr_confidence, ocr_error = _ocr_blank_pages(pdf, name, limits, layouts, warnings)
    furniture = _running_furniture(layouts)
    builder = BookTextBuilder(name, limits.max_text_chars)
    pages: list[PageSpan] = []
    paragraphs: list[PdfParagraph] = []
    body_lines: list[list[PdfLine]] = []
    for index, (lines, height) in enumerate(layouts):
        body = [line for line in lines or [] if not _is_furniture(line, height, furniture)]
        body_lines.append(body)
        start = _place_page(body, index + 1, builder, paragraphs)
        label = pdf.get_page_label(index) or None
        pages.append(
            PageSpan(index + 1, label, builder.length if start is None else start, builder.length)
        )
    text = builder.text()
    if not text:
        raise NoTextLayerError(
            name,
            f"none of the {page_count} pages has extractable text"
            + (", even after OCR" if ocr_read is not None else " (scanned?)")
            + (f" ({ocr_error})" if ocr_error else ""),
        )
    empty = sum(1 for page in pages if page.end == page.start)
    if empty:
        warnings.append(f"{empty} of {page_count} pages have no text layer")
    outline = read_outline(pdf, page_count, limits, warnings)
    if outline:
        toc = locate_outline(outline, text, pages, warnings)
    else:
        toc = derive_toc(paragraphs, pages, limits.max_toc_entries, warnings)
    return ExtractedBook(
        format="pdf",
        text=text,
        toc=toc,
        metadata=_metadata(pdf, body_lines[0] if body_lines else []),
        pages=pages,
        toc_derived=not outline,
        back_index=_back_index(toc, paragraphs, body_lines),
        warnings=warnings,
        ocr_pages=ocr_read or [],
        ocr_confidence=ocr_confidence,
    )


def _ocr_blank_pages(
    pdf: pdfium.PdfDocument,
    name: str,
    limits: ExtractLimits,
    layouts: list[tuple[list[PdfLine] | None, float]],
    warnings: list[str],
) -> tuple[list[int] | None, float | None, str | None]:
    """OCR the loaded pages that have no text, in place in `layouts`.

    Returns the pages that got text from OCR (None when no page needed it), the mean word
    confidence (0-100) over those pages, and the first error Tesseract reported, if any.
    """
    blank = [index + 1 for index, (lines, _) in enumerate(layouts) if lines == []]
    if not blank:
        return None, None, None
    tesseract = tesseract_path()
    if tesseract is None:
        # Never index a scan as if it were blank: the book fails and says what is missing.
        raise NoTextLayerError(
            name,
            f"{len(blank)} of {len(layouts)} pages have no text layer, and reading them needs "
            "the tesseract OCR program, which is not installed (Debian: tesseract-ocr)",
        )
    if len(blank) > limits.max_ocr_pages:
        warnings.append(
            f"{len(blank) - limits.max_ocr_pages} pages without a text layer were not OCR'd "
            f"(the limit is {limits.max_ocr_pages:,} pages per book)"
        )
        blank = blank[: limits.max_ocr_pages]

    def render(number: int) -> tuple[bytes, float]:
        page = pdf[number - 1]
        try:
            return render_pgm(page, limits.ocr_dpi), page.get_height()
        finally:
            page.close()

    results = ocr_pages(
        render,
        blank,
        tesseract=tesseract,
        langs=ocr_langs(),
        dpi=limits.ocr_dpi,
        seconds_per_page=limits.ocr_page_seconds,
        workers=ocr_workers(limits.max_ocr_workers),
    )
    read: list[int] = []
    confidences: list[float] = []
    for result in results:
        if result.lines:
            layouts[result.number - 1] = (result.lines, layouts[result.number - 1][1])
            read.append(result.number)
            if result.confidence is not None:
                confidences.append(result.confidence)
        else:
            why = f": {result.error}" if result.error else ""
            warnings.append(f"OCR found no text on page {result.number}{why}")
    confidence = round(sum(confidences) / len(confidences), 1) if confidences else None
    if read:
        warnings.append(
            f"OCR read {len(read)} of {len(layouts)} pages ({page_ranges(read)}), "
            f"mean confidence {confidence}%"
        )
    return read, confidence, next((r.error for r in results if r.error), None)


def _read_page(
    pdf: pdfium.PdfDocument, index: int, warnings: list[str]
) -> tuple[list[PdfLine] | None, float]:
    """The page's text lines (None when the page cannot be loaded) and its height."""
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        warnings.append(f"page {index + 1} could not be loaded")
        return None, 0.0
    try:
        height = page.get_height()
        textpage = page.get_textpage()
        try:
            return page_lines(textpage), height
        finally:
            textpage.close()
    finally:
        page.close()


def _running_furniture(layouts: list[tuple[list[PdfLine] | None, float]]) -> set[str]:
    """Keys of margin lines that recur on enough pages to be headers, footers or folios."""
    pages_with: Counter[str] = Counter()
    for lines, height in layouts:
        pages_with.update(
            {_furniture_key(line) for line in lines or [] if _in_margin(line, height)}
        )
    threshold = max(3, _FURNITURE_SHARE * len(layouts))
    return {key for key, count in pages_with.items() if count >= threshold}


def _is_furniture(line: PdfLine, height: float, furniture: set[str]) -> bool:
    return _in_margin(line, height) and _furniture_key(line) in furniture


def _in_margin(line: PdfLine, height: float) -> bool:
    return line.rotated or line.y > (1 - _MARGIN) * height or line.y < _MARGIN * height


def _furniture_key(line: PdfLine) -> str:
    """The line's text with numbers blanked; every page number ("12", "iv") gets the same key."""
    if _PAGE_NUMBER.match(line.text):
        return "#folio"
    return _DIGITS.sub("#", " ".join(line.text.casefold().split()))


def _place_page(
    lines: list[PdfLine], number: int, builder: BookTextBuilder, paragraphs: list[PdfParagraph]
) -> int | None:
    """Adds the page's paragraphs to the text; returns where the page starts (None if blank)."""
    start = None
    for position, group in enumerate(group_paragraphs(lines)):
        text = join_lines(group)
        runs_on = (
            position == 0
            and paragraphs
            and paragraphs[-1].page == number - 1
            and _RUNS_ON.search(builder.last_text)
            and text[:1].islower()
        )
        offset = builder.extend_paragraph(text) if runs_on else builder.add_paragraph(text)
        if offset is None:
            continue
        if not runs_on:
            paragraphs.append(PdfParagraph(offset, number, tuple(group), builder.last_text))
        start = offset if start is None else start
    return start


def _metadata(pdf: pdfium.PdfDocument, first_page: list[PdfLine]) -> BookMetadata:
    info = {
        key: clean_title(value) for key, value in pdf.get_metadata_dict(skip_empty=True).items()
    }
    authors = _split_authors(info.get("Author", ""))
    if not authors:
        by_line = next((m for line in first_page[:15] if (m := _BY_LINE.match(line.text))), None)
        authors = _split_authors(by_line["names"]) if by_line else ()
    date = _PDF_DATE.match(info.get("CreationDate", ""))
    return BookMetadata(
        title=info.get("Title") or None,
        authors=authors,
        language=_catalog_language(pdf),
        date="-".join(part for part in date.groups() if part) if date else None,
        description=info.get("Subject") or None,
    )


def _split_authors(value: str) -> tuple[str, ...]:
    """Author names from an info-dictionary field, split on ';', '&', ' and ' or ','.

    Commas split only when every part has several words: "Kissel, Richard" is one name.
    """
    value = value.strip()
    if not value:
        return ()
    for separator in (";", "&", " and "):
        if separator in value:
            parts = value.split(separator)
            break
    else:
        parts = value.split(",")
        if not all(len(part.split()) > 1 for part in parts):
            parts = [value]
    names = (clean_title(part).strip(" ?,") for part in parts)
    return tuple(dict.fromkeys(name for name in names if name))


def _catalog_language(pdf: pdfium.PdfDocument) -> str | None:
    size = pdfium_c.FPDFCatalog_GetLanguage(pdf, None, 0)
    if size <= 2:
        return None
    buffer = (ctypes.c_ushort * (size // 2))()
    pdfium_c.FPDFCatalog_GetLanguage(pdf, buffer, size)
    return bytes(buffer)[: size - 2].decode("utf-16-le", "replace").strip() or None


def _back_index(
    toc: list[TocEntry], paragraphs: list[PdfParagraph], body_lines: list[list[PdfLine]]
) -> list[IndexTerm]:
    """Entries of the section titled "Index": from its heading to the next ToC entry's page."""
    start = next((e for e in toc if INDEX_TITLE.match(e.title)), None)
    if start is not None and start.page is not None:
        first_page = start.page
        later = [e.page for e in toc if e.page is not None and e.offset > start.offset]
        last_page = max(first_page, min(later) - 1) if later else len(body_lines)
    else:
        heading = next(
            (p for p in paragraphs if p.page > len(body_lines) // 2 and INDEX_TITLE.match(p.text)),
            None,
        )
        if heading is None:
            return []
        first_page, last_page = heading.page, len(body_lines)
    lines = [line for page in body_lines[first_page - 1 : last_page] for line in page]
    heading_at = next((i for i, line in enumerate(lines) if INDEX_TITLE.match(line.text)), -1)
    lines = lines[heading_at + 1 :]
    indents = indents_from_columns([line.x for line in lines])
    return parse_index_lines(
        IndexLine(indent, line.text) for indent, line in zip(indents, lines, strict=True)
    )
