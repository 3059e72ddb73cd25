"""Turning a book's bytes (PDF, EPUB, plain text, Markdown) into text with its structure.

`extract_book` is the one entry point: it recognises the format from the content, applies the
size limits in `ExtractLimits`, and raises a `hbi.errors.BookError` subclass naming the book
and the problem when the book cannot be read.
"""

from __future__ import annotations

import re

from hbi.books.book import ExtractedBook
from hbi.errors import BookTooLargeError, EmptyBookError
from hbi.extract.detect import BookFormat, detect_format
from hbi.extract.epub import extract_epub
from hbi.extract.language import with_language
from hbi.extract.limits import DEFAULT_LIMITS, ExtractLimits
from hbi.extract.pdf_child import extract_pdf_in_child
from hbi.extract.text import extract_text_book

__all__ = ["DEFAULT_LIMITS", "BookFormat", "ExtractLimits", "detect_format", "extract_book"]

_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def extract_book(data: bytes, name: str, limits: ExtractLimits = DEFAULT_LIMITS) -> ExtractedBook:
    """The book's clean text, ToC, pages, metadata and matter ranges, whatever its format.

    `name` is the object key / book id; it is only used in error messages and, for text, to
    break the tie between Markdown and plain text. Raises a BookError subclass on failure.
    """
    if not data:
        raise EmptyBookError(name, "the file is empty (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise BookTooLargeError(
            name, f"file is {len(data):,} bytes; the limit is {limits.max_file_bytes:,}"
        )
    book = _extract_by_format(data, name, limits)
    # Punctuation or symbols alone ("!", "* * *") give no term to search for.
    if not _LETTER_OR_DIGIT.search(book.text):
        raise EmptyBookError(name, "the text has no letters or digits, only punctuation or symbols")
    book.metadata = with_language(book.metadata, book.text)
    return book


def _extract_by_format(data: bytes, name: str, limits: ExtractLimits) -> ExtractedBook:
    book_format = detect_format(data, name)
    if book_format is BookFormat.PDF:
        return extract_pdf_in_child(data, name, limits)
    if book_format is BookFormat.EPUB:
        return extract_epub(data, name, limits)
    return extract_text_book(data, name, limits)
