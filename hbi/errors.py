"""Typed errors that name the book and the problem, so a failed partition says why it failed."""

from __future__ import annotations


class BookError(Exception):
    """A book could not be turned into an index entry; carries the book's name and the cause."""

    kind = "book error"

    def __init__(self, book: str, reason: str):
        self.book = book
        self.reason = reason
        super().__init__(f"{book}: {self.kind}: {reason}")

    def __reduce__(self) -> tuple[type[BookError], tuple[str, str]]:
        # Rebuilt from (book, reason), so the error crosses a process boundary intact.
        return type(self), (self.book, self.reason)


class UnsupportedFormatError(BookError):
    kind = "unsupported format"


class CorruptBookError(BookError):
    kind = "corrupt file"


class EncryptedBookError(BookError):
    kind = "encrypted"


class NoTextLayerError(BookError):
    kind = "no text layer"


class BookTooLargeError(BookError):
    kind = "over a size limit"


class EmptyBookError(BookError):
    kind = "empty"
