"""Finding a passage's text among a PDF page's lines, to mark it in the page's text layer.

The index's text of a PDF is pdfium's text with running headers and footers dropped, lines
joined, hyphenation resolved and whitespace collapsed (hbi/extract/pdf.py), so the two are
compared word by word (runs of letters and digits, case ignored), which none of that changes
but for a word split at a hyphen. The page's words are aligned with the passage's; aligned
runs of two words or more close to each other form one stretch, and the stretch with the most
aligned words is the passage's part on this page: a passage can begin or end on another page,
and a stray common word ("the") elsewhere on the page must not be marked.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_WORD = re.compile(r"\w+")
# Words of the page or the passage an aligned run may skip and stay in the same stretch: a
# word split at a hyphen ("exam-ple" against "example") or a footnote mark.
_MAX_GAP_WORDS = 4
# A stretch must align this many words (or the whole passage, if it is shorter) to be marked.
_MIN_WORDS = 3

Spans = list[tuple[str, bool]]


def mark_lines(lines: list[str], passage: str) -> list[Spans]:
    """Each line as (text, marked) spans, marked where it holds the passage's text."""
    text = "\n".join(lines)
    marked = _marked_range(text, passage)
    spans: list[Spans] = []
    start = 0
    for line in lines:
        end = start + len(line)
        if marked is None or marked[1] <= start or marked[0] >= end:
            spans.append([(line, False)])
        else:
            cut_from, cut_to = max(marked[0], start) - start, min(marked[1], end) - start
            pieces = [
                (line[:cut_from], False),
                (line[cut_from:cut_to], True),
                (line[cut_to:], False),
            ]
            spans.append([(piece, mark) for piece, mark in pieces if piece])
        start = end + 1
    return spans


def _marked_range(text: str, passage: str) -> tuple[int, int] | None:
    """Where in text the passage's part lies (character offsets), or None if it is not there."""
    page_words = list(_WORD.finditer(text))
    passage_words = [word.casefold() for word in _WORD.findall(passage)]
    if not page_words or not passage_words:
        return None
    matcher = SequenceMatcher(
        None, [word[0].casefold() for word in page_words], passage_words, autojunk=False
    )
    # A lone aligned word is as likely chance as the passage; between runs, the gap covers it.
    least = min(2, len(passage_words))
    stretches: list[list[tuple[int, int, int]]] = []
    for block in matcher.get_matching_blocks():
        if block.size < least:
            continue
        if stretches:
            last_a, last_b, last_size = stretches[-1][-1]
            if (
                block.a - (last_a + last_size) <= _MAX_GAP_WORDS
                and block.b - (last_b + last_size) <= _MAX_GAP_WORDS
            ):
                stretches[-1].append(tuple(block))
                continue
        stretches.append([tuple(block)])
    best = max(stretches, key=lambda stretch: sum(size for _, _, size in stretch), default=None)
    if best is None or sum(size for _, _, size in best) < min(_MIN_WORDS, len(passage_words)):
        return None
    first = page_words[best[0][0]]
    last_a, _, last_size = best[-1]
    last = page_words[last_a + last_size - 1]
    return _widen(text, first.start(), last.end())


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """The range grown over the punctuation touching it: opening quotes, a full stop."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end
