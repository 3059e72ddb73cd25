"""A book's text cut into passages to embed: within sections, at natural breaks, never truncated.

Size: a chunk holds at most 126 word pieces by default, so with [CLS] and [SEP] the model sees
128 tokens, the sequence length all-MiniLM-L6-v2 was fine-tuned on (its model card: "The sequence
length was limited to 128 tokens"). The model accepts 256, but a mean-pooled vector of a longer
passage blurs several topics into one point and the model never learnt to summarise that much,
so shorter passages retrieve better; 126 pieces is roughly 90 words, a paragraph. Consecutive
chunks of one section share up to 16 word pieces (about one short sentence), so a statement cut
at a boundary is whole in at least one chunk without much duplicated text.

Where to cut: each section (and each front/back matter range inside it) is tokenised once; a
chunk then ends at the latest paragraph break that keeps it at least half full, else the latest
sentence break that does, else a sentence break at least a quarter full, else the latest word
break, else (one "word" longer than the budget, such as a run of punctuation) between word
pieces. Cuts are made on the token offsets, so candidate chunks are never re-tokenised except
around such a mid-word cut, where the pieces on either side can tokenise differently.

Sentences inside a chunk: `sentence_spans` gives the word-piece ranges of a chunk's sentences,
which the embedder turns into sentence vectors from the chunk's own forward pass (see
hbi/embedding/late_chunking.py). A query that quotes one sentence of a chunk is much closer to
that sentence's vector than to the chunk's, which averages every sentence around it.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from hbi.books.book import ExtractedBook, PageSpan

MODEL_TOKEN_LIMIT = 256  # all-MiniLM-L6-v2's max_seq_length, special tokens included
SPECIAL_TOKENS = 2
DEFAULT_MAX_TOKENS = 126
DEFAULT_OVERLAP_TOKENS = 16
# A "sentence" shorter than this (a heading, "Chapter 3.", "Mr.") says too little on its own.
MIN_SENTENCE_TOKENS = 8
# A longer one is cut into windows of at most SENTENCE_WINDOW_TOKENS, so that one of them still
# stands for a quoted clause rather than a paragraph's worth of text.
MAX_SENTENCE_TOKENS = 64
SENTENCE_WINDOW_TOKENS = 48
# Text is tokenised in windows of about this many characters, cut at whitespace: the tokenizer
# needs ~140 bytes per character at once, so one 30 MB section would take 4 GB in one call.
TOKENIZE_WINDOW_CHARS = 1 << 20

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_BREAK = re.compile(r"[.!?…][\"'”’»)\]]*\s+|[。！？]\s*")
_WORD_BREAK = re.compile(r"\s+")


class TokenOffsetSource(Protocol):
    """Anything that gives the character span of every word piece, like MiniLMEmbedder."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(frozen=True)
class BookChunk:
    """A passage of a book's text with its place in the book, ready to embed and index."""

    ordinal: int  # 0-based in reading order
    text: str
    section_index: int | None  # index into ExtractedBook.toc; None before the first entry
    char_start: int  # [start, end) in ExtractedBook.text
    char_end: int
    page_start: int | None
    page_end: int | None
    page_label_start: str | None
    page_label_end: str | None
    token_count: int  # word pieces, no special tokens
    content_hash: str  # sha256 hex of text
    is_matter: bool  # lies in a front/back matter range


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int
    section_index: int | None
    is_matter: bool


def chunk_book(
    book: ExtractedBook,
    tokenizer: TokenOffsetSource,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[BookChunk]:
    """Give the book's chunks in reading order, none crossing a section or matter boundary."""
    if not 1 <= max_tokens <= MODEL_TOKEN_LIMIT - SPECIAL_TOKENS:
        raise ValueError(
            f"max_tokens must be in 1..{MODEL_TOKEN_LIMIT - SPECIAL_TOKENS} so the model "
            f"never truncates a chunk, got {max_tokens}"
        )
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be in 0..{max_tokens - 1}, got {overlap_tokens}")
    pages = _PageLookup(book.pages)
    chunks: list[BookChunk] = []
    for segment in _segments(book):
        cutter = _SegmentCutter(book.text, segment, tokenizer, max_tokens, overlap_tokens)
        for start, end, token_count in cutter.spans():
            text = book.text[start:end]
            first, last = pages.at(start), pages.at(end - 1)
            chunks.append(
                BookChunk(
                    ordinal=len(chunks),
                    text=text,
                    section_index=segment.section_index,
                    char_start=start,
                    char_end=end,
                    page_start=first.number if first else None,
                    page_end=last.number if last else None,
                    page_label_start=first.label if first else None,
                    page_label_end=last.label if last else None,
                    token_count=token_count,
                    content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                    is_matter=segment.is_matter,
                )
            )
    return chunks


def sentence_spans(text: str, offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Give the word-piece ranges [i, k) of a chunk's sentences; none for a one-sentence chunk.

    `offsets` are the character spans of the chunk's word pieces (`token_offsets(text)`).
    Sentences end at the chunker's sentence and paragraph breaks; one shorter than
    MIN_SENTENCE_TOKENS joins the sentence after it (the last one joins the one before), and one
    longer than MAX_SENTENCE_TOKENS is cut into near-equal windows. A chunk that is a single
    span gets nothing: its chunk vector already stands for it.
    """
    count = len(offsets)
    starts = [start for start, _ in offsets]
    breaks = {
        bisect_left(starts, match.end())
        for pattern in (_PARAGRAPH_BREAK, _SENTENCE_BREAK)
        for match in pattern.finditer(text)
    }
    edges = _join_short_sentences(sorted(k for k in breaks if 0 < k < count), count)
    spans = [window for i, k in pairwise(edges) for window in _sentence_windows(i, k)]
    return spans if len(spans) > 1 else []


def _join_short_sentences(breaks: list[int], count: int) -> list[int]:
    """Give the span edges [0, …, count] after dropping breaks that leave a short sentence."""
    edges = [0]
    for k in breaks:
        if k - edges[-1] >= MIN_SENTENCE_TOKENS:
            edges.append(k)
    if len(edges) > 1 and count - edges[-1] < MIN_SENTENCE_TOKENS:
        edges.pop()
    return [*edges, count] if count else []


def _sentence_windows(i: int, k: int) -> list[tuple[int, int]]:
    """Give [i, k) whole, or cut into near-equal windows when it is a very long sentence."""
    length = k - i
    if length <= MAX_SENTENCE_TOKENS:
        return [(i, k)]
    parts = -(-length // SENTENCE_WINDOW_TOKENS)
    cuts = [i + round(part * length / parts) for part in range(parts + 1)]
    return list(pairwise(cuts))


def _segments(book: ExtractedBook) -> Iterator[_Segment]:
    """Yield the text's sections in reading order, each further split at matter boundaries."""
    length = len(book.text)
    # Stable sort: of several entries at one offset the last one (usually the deepest) owns
    # the text, the others get empty sections.
    order = sorted(range(len(book.toc)), key=lambda i: book.toc[i].offset)
    starts = [min(max(book.toc[i].offset, 0), length) for i in order]
    sections: list[tuple[int | None, int, int]] = [(None, 0, starts[0] if starts else length)]
    for position, index in enumerate(order):
        end = starts[position + 1] if position + 1 < len(order) else length
        sections.append((index, starts[position], end))

    matter = _merge_ranges(book.matter_ranges, length)
    edges = sorted({edge for span in matter for edge in span})
    for section_index, start, end in sections:
        cuts = [start, *(e for e in edges if start < e < end), end]
        for piece_start, piece_end in pairwise(cuts):
            if piece_start < piece_end:
                inside = any(m_start <= piece_start < m_end for m_start, m_end in matter)
                yield _Segment(piece_start, piece_end, section_index, inside)


def _merge_ranges(ranges: Sequence[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(s, 0), min(e, length)) for s, e in ranges):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def token_spans(
    tokenizer: TokenOffsetSource, text: str, window: int = TOKENIZE_WINDOW_CHARS
) -> tuple[array, array]:
    """Give the start and end offsets of text's word pieces, tokenising window by window.

    Windows end at whitespace, where BERT's pre-tokenizer splits anyway, so the word pieces are
    those of one call on the whole text; only a run of more than `window` characters without
    whitespace is cut inside (a "word" no real book has). Offsets are kept as int64 arrays.
    """
    starts, ends = array("q"), array("q")
    begin = 0
    while begin < len(text):
        end = _window_end(text, begin, window)
        for start, stop in tokenizer.token_offsets(text[begin:end]):
            starts.append(begin + start)
            ends.append(begin + stop)
        begin = end
    return starts, ends


def _window_end(text: str, begin: int, window: int) -> int:
    end = begin + window
    if end >= len(text):
        return len(text)
    cut = end
    while cut > begin and not text[cut - 1].isspace():
        cut -= 1
    return cut if cut > begin else end


class _SegmentCutter:
    """Cuts one tokenised segment into token windows [i, k) at the best breaks available."""

    def __init__(
        self,
        text: str,
        segment: _Segment,
        tokenizer: TokenOffsetSource,
        max_tokens: int,
        overlap_tokens: int,
    ):
        self.base = segment.start
        self.segment_text = text[segment.start : segment.end]
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.starts, self.ends = token_spans(tokenizer, self.segment_text)
        # Each list holds the token indices k where a chunk may end before token k; a finer
        # level includes the coarser ones, since every paragraph break is also a sentence break.
        self.paragraph_breaks = self._break_indices(_PARAGRAPH_BREAK)
        self.sentence_breaks = sorted(
            set(self.paragraph_breaks) | set(self._break_indices(_SENTENCE_BREAK))
        )
        self.word_breaks = self._break_indices(_WORD_BREAK)

    def _break_indices(self, pattern: re.Pattern[str]) -> list[int]:
        count = len(self.starts)
        indices = {bisect_left(self.starts, m.end()) for m in pattern.finditer(self.segment_text)}
        return sorted(k for k in indices if 0 < k < count)

    def spans(self) -> Iterator[tuple[int, int, int]]:
        """Yield (char_start, char_end, token_count) of each chunk, offsets into the book text."""
        count = len(self.starts)
        i = k = 0
        while i < count:
            k = count if count - i <= self.max_tokens else self._cut_after(i, k)
            k, token_count = self._fit(i, k)
            yield self.base + self.starts[i], self.base + self.ends[k - 1], token_count
            if k == count:
                return
            i = self._overlap_start(i, k)

    def _cut_after(self, i: int, previous_end: int) -> int:
        # Ending at or before the previous chunk's end would only repeat its overlap.
        limit = i + self.max_tokens
        ladder = (
            (self.paragraph_breaks, self.max_tokens // 2),
            (self.sentence_breaks, self.max_tokens // 2),
            (self.sentence_breaks, self.max_tokens // 4),
            (self.word_breaks, 1),
        )
        for breaks, least in ladder:
            k = _latest_at_most(breaks, limit)
            if k is not None and k > previous_end and k - i >= least:
                return k
        return limit

    def _fit(self, i: int, k: int) -> tuple[int, int]:
        """Give k, moved back if needed, and the chunk's true token count."""
        if self._is_word_edge(i) and (k == len(self.starts) or self._is_word_edge(k)):
            return k, k - i
        # A mid-word edge: the text on either side may split into different pieces on its own.
        while True:
            text = self.segment_text[self.starts[i] : self.ends[k - 1]]
            token_count = len(self.tokenizer.token_offsets(text))
            if token_count <= self.max_tokens or k - i == 1:
                return k, token_count
            k -= 1

    def _is_word_edge(self, k: int) -> bool:
        if k == 0:
            return True
        gap = self.segment_text[self.ends[k - 1] : self.starts[k]]
        return gap.isspace()

    def _overlap_start(self, i: int, k: int) -> int:
        if self.overlap_tokens == 0:
            return k
        earliest = max(k - self.overlap_tokens, i + 1)
        for breaks in (self.sentence_breaks, self.word_breaks):
            j = _earliest_at_least(breaks, earliest)
            if j is not None and j < k:
                return j
        # After a cut inside one long "word" there is no word start to go back to.
        return k if self._is_word_edge(k) else earliest


def _latest_at_most(sorted_values: list[int], limit: int) -> int | None:
    position = bisect_right(sorted_values, limit)
    return sorted_values[position - 1] if position else None


def _earliest_at_least(sorted_values: list[int], least: int) -> int | None:
    position = bisect_left(sorted_values, least)
    return sorted_values[position] if position < len(sorted_values) else None


class _PageLookup:
    """Finds the page of a character offset among the book's page spans."""

    def __init__(self, pages: Sequence[PageSpan]):
        self.pages = sorted(pages, key=lambda page: page.start)
        self.starts = [page.start for page in self.pages]

    def at(self, offset: int) -> PageSpan | None:
        """Give the page holding offset, the page before a gap between pages, or None if unpaged."""
        if not self.pages:
            return None
        return self.pages[max(bisect_right(self.starts, offset) - 1, 0)]
