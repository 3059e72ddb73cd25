"""Assembling a book's text paragraph by paragraph, with the offsets every format needs."""

from __future__ import annotations

import unicodedata

from hbi.errors import BookTooLargeError

PARAGRAPH_BREAK = "\n\n"

# Invisible characters that only steer line breaking (soft hyphen, zero-width space, word
# joiner, BOM); left in, they split words for the full-text index. ZWJ/ZWNJ stay: they change
# the rendering of Indic, Persian and emoji text.
_INVISIBLE = {ord(c): None for c in "\u00ad\u200b\u2060\ufeff"}
# C0/C1 control characters other than whitespace are debris from broken encoders.
_INVISIBLE.update(
    {c: None for c in range(0x20) if chr(c) not in "\t\n\r\x0b\x0c"}
    | {c: None for c in range(0x7F, 0xA0) if c != 0x85}
)


def clean_paragraph(raw: str) -> str:
    """The paragraph with invisible characters dropped and every whitespace run made one space."""
    return " ".join(raw.translate(_INVISIBLE).split())


def clean_title(raw: str) -> str:
    """A ToC title or metadata value, cleaned like a paragraph and NFC-normalised."""
    return unicodedata.normalize("NFC", clean_paragraph(raw))


class BookTextBuilder:
    """Collects paragraphs into one text joined by blank lines and reports where each starts."""

    def __init__(self, book: str, max_chars: int):
        self._book = book
        self._max_chars = max_chars
        self._parts: list[str] = []
        self._length = 0
        self._last_text = ""

    @property
    def length(self) -> int:
        """The length of the text so far: where a range that ends here stops."""
        return self._length

    @property
    def next_offset(self) -> int:
        """The offset the next non-empty paragraph will start at."""
        return self._length + len(PARAGRAPH_BREAK) if self._length else 0

    @property
    def last_text(self) -> str:
        """The text added last, as cleaned: a paragraph, or the continuation of one."""
        return self._last_text

    def add_paragraph(self, raw: str) -> int | None:
        """The offset of the cleaned paragraph just added, or None when it was blank."""
        paragraph = clean_paragraph(raw)
        if not paragraph:
            return None
        offset = self.next_offset
        if self._length:
            self._parts.append(PARAGRAPH_BREAK)
        self._parts.append(paragraph)
        self._length = offset + len(paragraph)
        self._last_text = paragraph
        self._check_size()
        return offset

    def extend_paragraph(self, raw: str) -> int | None:
        """The offset where `raw` continues the last paragraph (after a space), or None if blank."""
        addition = clean_paragraph(raw)
        if not addition:
            return None
        if not self._length:
            return self.add_paragraph(addition)
        self._parts.append(" " + addition)
        self._length += 1 + len(addition)
        self._last_text = addition
        self._check_size()
        return self._length - len(addition)

    def text(self) -> str:
        """The whole text assembled so far."""
        return "".join(self._parts)

    def _check_size(self) -> None:
        if self._length > self._max_chars:
            raise BookTooLargeError(
                self._book,
                f"extracted text exceeds {self._max_chars:,} characters",
            )
