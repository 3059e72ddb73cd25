"""Why the reader cannot show what was asked: typed, each naming the book and the cause."""

from __future__ import annotations


class ReaderError(Exception):
    """A page, passage or book the reader cannot show; carries what was asked (a book id, or
    the chunk when no book is known) and the reason."""

    def __init__(self, subject: str, reason: str):
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class NotFoundError(ReaderError):
    """No such book, page, section or passage in the index."""


class NotAPdfError(ReaderError):
    """Pages are asked of a book that is not a PDF."""


class SourceUnavailableError(ReaderError):
    """The book's file cannot be fetched: the object store is unset, down or lost it."""


class SourceChangedError(ReaderError):
    """The book's file changed since it was indexed; the pages would not match the index."""


class UnreadablePageError(ReaderError):
    """pdfium could not read or render the page within its memory and time limits."""
