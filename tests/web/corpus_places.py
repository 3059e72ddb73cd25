"""Where a distinctive sentence of a corpus book sits: the sentence, its book and its passages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hbi.index import reads
from hbi.index.db import connect, default_index_path


def squash(text: str) -> str:
    """Return text's letters and digits, lower-cased: PDF lines and hyphenation aside."""
    return re.sub(r"\W+", "", text).lower()


def one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Place:
    """A sentence of a book, and the passages (chunks) that hold it."""

    book_id: str
    title: str
    format: str
    sentence: str
    chunk_ids: frozenset[int]
    page: int | None  # the PDF page its first passage starts on


def distinctive_place(book_id: str) -> Place:
    """Return a long sentence from a passage in the middle of the book's chapters.

    For a PDF the passage lies on one page, so the reader shows the whole sentence there.
    """
    connection = connect(default_index_path())
    book = reads.book(connection, book_id)
    chunks = reads.chunks(connection, book_id)
    candidates = [c for c in chunks if c["section_id"] and not c["is_matter"]]
    if book["format"] == "pdf":
        candidates = [c for c in candidates if c["page_start"] == c["page_end"]]
    for chunk in candidates[len(candidates) // 2 :]:
        paragraphs = re.split(r"\n\s*\n", chunk["text"])
        sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+", one_line(p))]
        long_ones = [s for s in sentences if 12 <= len(s.split()) <= 40 and "-" not in s]
        if long_ones:
            sentence = max(long_ones, key=len)
            holding = frozenset(
                c["chunk_id"] for c in chunks if squash(sentence) in squash(c["text"])
            )
            return Place(
                book_id, book["title"], book["format"], sentence, holding, chunk["page_start"]
            )
    raise AssertionError(f"{book_id}: no sentence of 12-40 words in its chapters")
