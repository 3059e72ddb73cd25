"""Reading a PDF page's text as lines with geometry, and grouping lines into paragraphs.

pdfium gives each page's text in content-stream order with "\\r\\n" between lines. For each
line we read where it starts (baseline origin), how big its type is (font size times the text
matrix scale: many producers set size 1 and scale the matrix) and whether it is bold. A new
paragraph starts where the baseline gap exceeds 1.35x the page's usual line pitch, where the
text moves up (a new column or block), where the type size or weight changes, where a line
begins with a list marker, is indented by about an em, or follows a short line that ended a
sentence or a contents line (dot leaders and a page number).
"""

from __future__ import annotations

import ctypes
import math
import re
import statistics
from dataclasses import dataclass

import pypdfium2.raw as pdfium_c

_LINE = re.compile("[^\r\n]+")
_LIST_MARKER = re.compile(r"^(?:[•◦▪▫●○■□‣⁃∙·*–—-]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")
# A contents-page line: dot leaders and a page number; each is a paragraph of its own. Tried
# only where a run of leaders starts, so a line of dots costs linear, not quadratic, time.
_CONTENTS_LINE = re.compile(r"(?<!\.)(?<!\.\s)(?:\.\s?){4,}\s*\S{1,8}$")
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_FONT_NAME_BYTES = 128


@dataclass(frozen=True)
class PdfLine:
    """One text line of a page: its text, where it starts and ends, its type size and weight."""

    text: str
    x: float
    y: float  # baseline of the first character
    end_y: float  # baseline of the last character
    right: float
    size: float
    bold: bool
    rotated: bool


def page_lines(textpage: pdfium_c.FPDF_TEXTPAGE) -> list[PdfLine]:
    """The page's non-blank text lines in pdfium's reading order."""
    count = pdfium_c.FPDFText_CountChars(textpage)
    if count <= 0:
        return []
    buffer = (ctypes.c_ushort * (count + 1))()
    written = pdfium_c.FPDFText_GetText(textpage, 0, count, buffer)
    # Decoding with surrogatepass keeps one str index per UTF-16 unit, which is the "text
    # index" pdfium maps back to its character list.
    units = bytes(buffer)[: max(written - 1, 0) * 2].decode("utf-16-le", "surrogatepass")
    lines: list[PdfLine] = []
    for match in _LINE.finditer(units):
        raw = match[0]
        stripped = raw.strip()
        if not stripped:
            continue
        first = match.start() + (len(raw) - len(raw.lstrip()))
        last = match.start() + len(raw.rstrip()) - 1
        line = _measure(textpage, first, last, stripped)
        if line is not None:
            lines.append(line)
    return lines


def _measure(textpage: pdfium_c.FPDF_TEXTPAGE, first: int, last: int, text: str) -> PdfLine | None:
    first_char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, first)
    last_char = pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, last)
    if first_char < 0:
        return None
    last_char = max(last_char, first_char)
    x, y = ctypes.c_double(), ctypes.c_double()
    pdfium_c.FPDFText_GetCharOrigin(textpage, first_char, x, y)
    end_x, end_y = ctypes.c_double(), ctypes.c_double()
    pdfium_c.FPDFText_GetCharOrigin(textpage, last_char, end_x, end_y)
    box = pdfium_c.FS_RECTF()
    pdfium_c.FPDFText_GetLooseCharBox(textpage, last_char, box)
    matrix = pdfium_c.FS_MATRIX()
    pdfium_c.FPDFText_GetMatrix(textpage, first_char, matrix)
    scale = math.sqrt(abs(matrix.a * matrix.d - matrix.b * matrix.c)) or 1.0
    size = pdfium_c.FPDFText_GetFontSize(textpage, first_char) * scale
    return PdfLine(
        text=text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace"),
        x=x.value,
        y=y.value,
        end_y=end_y.value,
        right=max(box.right, end_x.value),
        size=round(size, 1),
        # Both ends bold: a run-in bold lead ("Note: …") does not make the line a heading.
        bold=_is_bold(textpage, first_char) and _is_bold(textpage, last_char),
        rotated=abs(matrix.b) > abs(matrix.a),
    )


def _is_bold(textpage: pdfium_c.FPDF_TEXTPAGE, char: int) -> bool:
    if pdfium_c.FPDFText_GetFontWeight(textpage, char) >= 600:
        return True
    name = ctypes.create_string_buffer(_FONT_NAME_BYTES)
    pdfium_c.FPDFText_GetFontInfo(textpage, char, name, _FONT_NAME_BYTES, None)
    return bool(_BOLD_NAME.search(name.value.decode("latin-1", "replace")))


def group_paragraphs(lines: list[PdfLine]) -> list[list[PdfLine]]:
    """The page's lines grouped into paragraphs, in order."""
    if not lines:
        return []
    pitch = _line_pitch(lines)
    column_right = _column_right(lines)
    paragraphs: list[list[PdfLine]] = [[lines[0]]]
    for previous, line in zip(lines, lines[1:], strict=False):
        if _starts_paragraph(previous, line, pitch, column_right):
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


def join_lines(lines: list[PdfLine]) -> str:
    """The paragraph's text with line-end hyphenation resolved."""
    parts: list[str] = []
    for line in lines:
        text = line.text
        if parts and parts[-1].endswith(("\u00ad", "\x02")):
            parts[-1] = parts[-1][:-1]
        elif parts and parts[-1].endswith("-") and text[:1].islower():
            pass  # a compound broken after its hyphen ("well-\nknown"): keep the hyphen, no space
        elif parts:
            parts.append(" ")
        parts.append(text)
    # pdfium joins lines broken at a hyphen itself and marks the hyphen as U+FFFE; we cannot
    # tell a syllable break from a compound, so the hyphen is kept ("Part-Time", "so-called").
    return "".join(parts).replace("\ufffe", "-")


def _starts_paragraph(previous: PdfLine, line: PdfLine, pitch: float, column_right: float) -> bool:
    size = max(line.size, 1.0)
    gap = previous.end_y - line.y
    if gap > 1.35 * (pitch or 1.2 * size) or gap < -0.5 * size:
        return True
    if (
        abs(line.size - previous.size) > 0.15 * max(previous.size, size)
        or line.bold != previous.bold
    ):
        return True
    if line.rotated != previous.rotated or _LIST_MARKER.match(line.text):
        return True
    if _CONTENTS_LINE.search(previous.text):
        return True
    if line.x > previous.x + 0.8 * size and not _LIST_MARKER.match(previous.text):
        return True
    short = previous.right < column_right - 0.2 * (column_right - previous.x)
    return short and bool(_SENTENCE_END.search(previous.text))


def _line_pitch(lines: list[PdfLine]) -> float:
    """The usual baseline distance between consecutive lines of a paragraph on this page."""
    gaps = [
        a.end_y - b.y
        for a, b in zip(lines, lines[1:], strict=False)
        if abs(a.size - b.size) < 0.5 and 0.8 * b.size < a.end_y - b.y < 2.5 * b.size
    ]
    return statistics.median(gaps) if gaps else 0.0


def _column_right(lines: list[PdfLine]) -> float:
    """The right edge full lines reach (the 90th percentile of line ends)."""
    rights = sorted(line.right for line in lines)
    return rights[int(0.9 * (len(rights) - 1))]
