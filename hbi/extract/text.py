"""Plain-text and Markdown books: paragraphs, headings as the ToC, header lines as metadata.

Markdown when the text has ATX headings (see markdown.py); a Markdown file extension only
decides for text without any. Plain text has no structure of its own, so its ToC is inferred
(toc_derived=True): a line such as `CHAPTER I.` (or BOOK/PART/… with a roman, arabic or
spelled-out number) right after a blank line is a chapter heading. Its title is the line
itself when the title is on it ("Chapter 3: The Storm"), or that line plus the next one when
the next one is short and followed by a blank line ("CHAPTER I. Down the Rabbit-Hole"). The
heading must end at a blank line too, which rules out contents lists: their entries sit on
consecutive lines.
"""

from __future__ import annotations

import re

from hbi.books.book import ExtractedBook, IndexTerm
from hbi.errors import BookTooLargeError, EmptyBookError
from hbi.extract.backindex import INDEX_TITLE, IndexLine, parse_index_lines
from hbi.extract.book_text import clean_title
from hbi.extract.decode import decode_text
from hbi.extract.limits import ExtractLimits
from hbi.extract.markdown import has_atx_headings, is_markdown_name, markdown_blocks
from hbi.extract.text_blocks import HeaderFields, PlacedBlocks, TextBlock, place_blocks

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|first|second|third|fourth|"
    "fifth|sixth|seventh|eighth|ninth|tenth|last"
)
_CHAPTER = re.compile(
    rf"^(?P<label>(?:chapter|book|part|volume|stave|letter|canto)\s+"
    rf"(?:[ivxlcdm]+|\d+|(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}))?)\b\.?)"
    rf"(?:[\s.:—–-]+(?P<rest>\S.*))?$",
    re.IGNORECASE,
)
_MAX_TITLE_LINE = 100
_MAX_TITLE_WORDS = 12
_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]{0,24}):\s+(?P<value>\S.*)$")
_CONTENTS = re.compile(r"^(?:table of )?contents\.?$", re.IGNORECASE)
_GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_GUTENBERG_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)


def extract_text_book(data: bytes, name: str, limits: ExtractLimits) -> ExtractedBook:
    """The plain-text or Markdown book in `data`, with its headings as the ToC."""
    text, encoding = decode_text(data, name)
    if len(text) > limits.max_text_chars:
        raise BookTooLargeError(
            name, f"text has {len(text):,} characters; the limit is {limits.max_text_chars:,}"
        )
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields = HeaderFields()
    markdown = has_atx_headings(lines) or is_markdown_name(name)
    blocks = markdown_blocks(lines, fields) if markdown else _plain_blocks(lines)
    placed = place_blocks(blocks, name, limits.max_text_chars, limits.max_toc_entries)
    if not placed.text:
        raise EmptyBookError(name, "the file holds no text")
    header_end = _read_header_fields(blocks, fields)
    matter = _matter_ranges(blocks, placed, len(lines), header_end)
    warnings = [] if encoding.startswith("utf") else [f"decoded as {encoding}"]
    if not placed.toc:
        warnings.append("no headings found; the ToC is empty")
    elif len(placed.toc) == limits.max_toc_entries:
        warnings.append(f"ToC truncated at {limits.max_toc_entries:,} headings")
    first_heading = placed.toc[0].title if markdown and placed.toc else None
    return ExtractedBook(
        format="markdown" if markdown else "text",
        text=placed.text,
        toc=placed.toc,
        metadata=fields.metadata(first_heading),
        toc_derived=not markdown,
        back_index=_back_index(blocks, lines),
        matter_ranges=matter,
        warnings=warnings,
    )


def _plain_blocks(lines: list[str]) -> list[TextBlock]:
    headings = _chapter_headings(lines)
    blocks: list[TextBlock] = []
    i = 0
    while i < len(lines):
        if i in headings:
            title, used = headings[i]
            blocks.append(TextBlock(i, i + used, title, 1))
            i += used
        elif not lines[i].strip():
            i += 1
        else:
            end = i + 1
            while end < len(lines) and lines[end].strip() and end not in headings:
                end += 1
            blocks.append(TextBlock(i, end, " ".join(lines[i:end])))
            i = end
    return blocks


def _chapter_headings(lines: list[str]) -> dict[int, tuple[str, int]]:
    """Line number → (ToC title, lines it spans) for each chapter heading of plain text."""
    headings: dict[int, tuple[str, int]] = {}

    def blank(j: int) -> bool:
        return j < 0 or j >= len(lines) or not lines[j].strip()

    for i, raw in enumerate(lines):
        line = raw.strip()
        match = _CHAPTER.match(line) if len(line) <= _MAX_TITLE_LINE else None
        if not match or not blank(i - 1):
            continue
        label = " ".join(match["label"].split())
        if match["rest"]:
            # A one-line paragraph that merely starts with "Part one …" is prose, not a title.
            if blank(i + 1) and len(match["rest"].split()) <= _MAX_TITLE_WORDS:
                headings[i] = (clean_title(f"{label} {match['rest']}"), 1)
        elif blank(i + 1):
            headings[i] = (label, 1)
        elif blank(i + 2) and len(lines[i + 1].strip()) <= _MAX_TITLE_LINE:
            headings[i] = (clean_title(f"{label} {lines[i + 1]}"), 2)
    return headings


def _read_header_fields(blocks: list[TextBlock], fields: HeaderFields) -> int:
    """The line after the leading "Key: value" paragraphs, whose values go into `fields`."""
    header_end = 0
    for block in blocks:
        match = _FIELD.match(block.text.strip())
        if block.heading_level is not None or not match or block.end_line - block.first_line > 1:
            break
        fields.add(match["key"], match["value"])
        header_end = block.end_line
    return header_end


def _matter_ranges(
    blocks: list[TextBlock], placed: PlacedBlocks, line_count: int, header_end: int
) -> list[tuple[int, int]]:
    """Header field lines, the contents list and any Project Gutenberg header and licence."""
    ranges = [placed.line_range(blocks, 0, header_end)] if header_end else []
    for number, block in enumerate(blocks):
        if block.heading_level is None and _CONTENTS.match(block.text.strip()):
            list_end = blocks[number + 1].end_line if number + 1 < len(blocks) else block.end_line
            ranges.append(placed.line_range(blocks, block.first_line, list_end))
            break
    for block in blocks:
        if _GUTENBERG_START.match(block.text.strip()):
            ranges.append(placed.line_range(blocks, 0, block.end_line))
        elif _GUTENBERG_END.match(block.text.strip()):
            ranges.append(placed.line_range(blocks, block.first_line, line_count))
    return sorted({r for r in ranges if r[1] > r[0]})


def _back_index(blocks: list[TextBlock], lines: list[str]) -> list[IndexTerm]:
    """Entries of a section titled "Index" in the second half of the book, if there is one."""
    for number, block in enumerate(blocks):
        if block.first_line < len(lines) // 2 or not INDEX_TITLE.match(block.text.strip()):
            continue
        end = next(
            (
                later.first_line
                for later in blocks[number + 1 :]
                if later.heading_level is not None or _GUTENBERG_END.match(later.text.strip())
            ),
            len(lines),
        )
        index_lines = []
        for raw in lines[block.end_line : end]:
            expanded = raw.expandtabs(4)
            index_lines.append(IndexLine(len(expanded) - len(expanded.lstrip()), expanded))
        return parse_index_lines(index_lines)
    return []
