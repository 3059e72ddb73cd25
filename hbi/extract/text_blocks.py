"""The paragraph blocks that plain-text and Markdown parsing produce, and how they become a book."""

from __future__ import annotations

from dataclasses import dataclass, field

from hbi.books.book import BookMetadata, TocEntry
from hbi.extract.book_text import BookTextBuilder, clean_title


@dataclass(frozen=True)
class TextBlock:
    """A paragraph or heading spanning source lines [first_line, end_line)."""

    first_line: int
    end_line: int
    text: str
    heading_level: int | None = None


@dataclass
class HeaderFields:
    """Book facts gathered from "Key: value" header lines or headings."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, value: str) -> None:
        self.values.setdefault(" ".join(key.casefold().split()), []).append(clean_title(value))

    def first(self, *keys: str) -> str | None:
        return next((values[0] for key in keys if (values := self.values.get(key))), None)

    def metadata(self, fallback_title: str | None = None) -> BookMetadata:
        authors = [a for key in ("author", "authors", "by") for a in self.values.get(key, [])]
        return BookMetadata(
            title=self.first("title") or fallback_title,
            authors=tuple(dict.fromkeys(authors)),
            language=self.first("language", "lang"),
            publisher=self.first("publisher"),
            date=self.first("release date", "date", "year", "published"),
            identifiers=tuple(self.values.get("isbn", [])),
            description=self.first("description", "subject"),
        )


@dataclass
class PlacedBlocks:
    """Blocks written into the text: each block's [start, end) in it, or None when blank."""

    text: str
    spans: list[tuple[int, int] | None]
    toc: list[TocEntry]

    def line_range(
        self, blocks: list[TextBlock], first_line: int, end_line: int
    ) -> tuple[int, int]:
        """The text range covering every block inside source lines [first_line, end_line)."""
        inside = [
            span
            for block, span in zip(blocks, self.spans, strict=True)
            if span and first_line <= block.first_line and block.end_line <= end_line
        ]
        if not inside:
            return (0, 0)
        return inside[0][0], inside[-1][1]


def place_blocks(
    blocks: list[TextBlock], book: str, max_chars: int, max_toc_entries: int
) -> PlacedBlocks:
    """The text the blocks make, their spans in it, and a ToC entry per heading block.

    Headings past `max_toc_entries` stay in the text but get no ToC entry.
    """
    builder = BookTextBuilder(book, max_chars)
    spans: list[tuple[int, int] | None] = []
    toc: list[TocEntry] = []
    for block in blocks:
        offset = builder.add_paragraph(block.text)
        spans.append(None if offset is None else (offset, builder.length))
        if block.heading_level is not None and offset is not None and len(toc) < max_toc_entries:
            toc.append(TocEntry(block.heading_level, clean_title(block.text), offset))
    return PlacedBlocks(builder.text(), spans, toc)
