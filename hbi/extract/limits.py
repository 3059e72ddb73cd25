"""Size and count limits that keep one hostile or oversized book from exhausting time or memory."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class ExtractLimits:
    """Bounds applied while extracting one book; exceeding one raises BookTooLargeError.

    The defaults admit any real book we know of (a 5,000-page PDF, a 300 MB illustrated EPUB)
    while refusing zip bombs and multi-gigabyte inputs before they are inflated or parsed.
    """

    # The object as stored: bigger files are refused before any parsing starts.
    max_file_bytes: int = 300 * MIB
    # The extracted text of the whole book (about 6,000 pages of prose).
    max_text_chars: int = 30_000_000
    # Physical pages of a PDF.
    max_pages: int = 5_000
    # Entries in an EPUB's ZIP directory.
    max_zip_entries: int = 10_000
    # Sum of the declared uncompressed sizes of all ZIP entries.
    max_zip_total_bytes: int = 1024 * MIB
    # Uncompressed size of any single ZIP entry.
    max_zip_entry_bytes: int = 256 * MIB
    # Uncompressed/compressed ratio of one entry, and of the whole archive (which catches a bomb
    # spread over many small entries); real XHTML deflates about 3-10x, a bomb 1000x.
    max_zip_ratio: float = 100.0
    # Entries (and archives) smaller than this are exempt from the ratio check (tiny files
    # compress oddly well).
    zip_ratio_min_bytes: int = 1 * MIB
    # Inflated size of one document that is parsed (OPF, nav, NCX, a spine XHTML file): a parsed
    # tree takes about 12 times its source in memory, so this keeps one parse under ~400 MiB.
    max_document_bytes: int = 32 * MIB
    # Inflated size of all parsed documents together, which bounds the time spent parsing and
    # rendering markup (~0.35 s per MiB of the densest markup); real books stay far below it.
    max_documents_total_bytes: int = 128 * MIB
    # A PDF is read in a child process (pdfium inflates content streams whole, so a small file
    # can ask for gigabytes): the address space it may use beyond the file's own size, and the
    # seconds it may take. A 5,000-page book of prose took 230 MiB and 21 s.
    max_pdf_memory_bytes: int = 1024 * MIB
    max_pdf_seconds: float = 600.0
    # Pages without a text layer are read by Tesseract at `ocr_dpi`, at most `max_ocr_pages` of
    # them per book (later ones stay empty, with a warning), each within `ocr_page_seconds`
    # (a dense 300 dpi page takes 3-6 s on one core), `max_ocr_workers` at a time. The child's
    # time limit grows by `max_ocr_seconds` so a scanned book has time to be read.
    max_ocr_pages: int = 2_000
    ocr_page_seconds: float = 120.0
    ocr_dpi: int = 300
    max_ocr_workers: int = 8
    max_ocr_seconds: float = 3_600.0
    # Entries kept from a ToC (EPUB nav/NCX or PDF outline) and its nesting depth.
    max_toc_entries: int = 20_000
    max_toc_depth: int = 16


DEFAULT_LIMITS = ExtractLimits()
