"""Chunks respect sections and matter, fit the model without truncation and carry their pages."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbi.books.book import ExtractedBook, PageSpan, TocEntry
from hbi.chunking import (
    DEFAULT_MAX_TOKENS,
    MODEL_TOKEN_LIMIT,
    BookChunk,
    chunk_book,
    token_spans,
)
from hbi.embedding import MiniLMTokenizer

REPO_ROOT = Path(__file__).resolve().parents[1]
SUN_TZU_CHAPTERS = ("### I. LAYING PLANS", "### II. WAGING WAR", "### III. ATTACK BY STRATAGEM")


@pytest.fixture(scope="module")
def tokenizer() -> MiniLMTokenizer:
    return MiniLMTokenizer.from_package()


@pytest.fixture(scope="module")
def sun_tzu() -> ExtractedBook:
    shared = Path(os.environ.get("HBI_SHARED_DIR", REPO_ROOT.parent / "shared"))
    path = shared / "corpus" / "sun-tzu_the-art-of-war.md"
    # A missing corpus must fail the run: skipping would hide that nothing was checked.
    assert path.is_file(), f"corpus text not found at {path} (set HBI_SHARED_DIR)"
    text = path.read_text(encoding="utf-8")
    toc = [
        TocEntry(level=1, title=title[4:], offset=text.index(title)) for title in SUN_TZU_CHAPTERS
    ]
    return ExtractedBook(format="markdown", text=text, toc=toc, matter_ranges=[(0, toc[0].offset)])


@pytest.fixture(scope="module")
def sun_tzu_chunks(sun_tzu: ExtractedBook, tokenizer: MiniLMTokenizer) -> list[BookChunk]:
    return chunk_book(sun_tzu, tokenizer)


def paragraphs(count: int, sentences: int = 6) -> str:
    sentence = "The general weighs the ground, the weather and the temper of his troops."
    return "\n\n".join(" ".join([sentence] * sentences) for _ in range(count))


def uncovered_characters(text: str, chunks: list[BookChunk]) -> list[int]:
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.char_start : chunk.char_end] = b"\x01" * (chunk.char_end - chunk.char_start)
    return [i for i, char in enumerate(text) if not char.isspace() and not covered[i]]


def section_of(book: ExtractedBook, offset: int) -> int | None:
    owners = [i for i, entry in enumerate(book.toc) if entry.offset <= offset]
    return max(owners, key=lambda i: book.toc[i].offset) if owners else None


def test_no_corpus_chunk_would_be_truncated_by_the_model(
    sun_tzu_chunks: list[BookChunk], tokenizer: MiniLMTokenizer
) -> None:
    counts = tokenizer.count_tokens([chunk.text for chunk in sun_tzu_chunks])
    assert max(counts) <= DEFAULT_MAX_TOKENS
    assert sum(count + 2 > MODEL_TOKEN_LIMIT for count in counts) == 0


def test_token_count_is_the_real_word_piece_count(
    sun_tzu_chunks: list[BookChunk], tokenizer: MiniLMTokenizer
) -> None:
    counts = tokenizer.count_tokens([chunk.text for chunk in sun_tzu_chunks])
    assert [chunk.token_count for chunk in sun_tzu_chunks] == counts


def test_chunks_never_cross_a_section_boundary(
    sun_tzu: ExtractedBook, sun_tzu_chunks: list[BookChunk]
) -> None:
    for chunk in sun_tzu_chunks:
        assert section_of(sun_tzu, chunk.char_start) == chunk.section_index
        assert section_of(sun_tzu, chunk.char_end - 1) == chunk.section_index
    assert {chunk.section_index for chunk in sun_tzu_chunks} == {None, 0, 1, 2}


def test_chunks_cover_every_word_of_the_book(
    sun_tzu: ExtractedBook, sun_tzu_chunks: list[BookChunk]
) -> None:
    assert uncovered_characters(sun_tzu.text, sun_tzu_chunks) == []


def test_chunk_text_is_the_stripped_slice_of_the_book(
    sun_tzu: ExtractedBook, sun_tzu_chunks: list[BookChunk]
) -> None:
    for chunk in sun_tzu_chunks:
        assert chunk.text == sun_tzu.text[chunk.char_start : chunk.char_end]
        assert chunk.text == chunk.text.strip()


def test_ordinals_follow_reading_order(sun_tzu_chunks: list[BookChunk]) -> None:
    assert [chunk.ordinal for chunk in sun_tzu_chunks] == list(range(len(sun_tzu_chunks)))
    starts = [chunk.char_start for chunk in sun_tzu_chunks]
    assert starts == sorted(starts)


def test_consecutive_chunks_of_a_section_overlap(sun_tzu_chunks: list[BookChunk]) -> None:
    pairs = list(zip(sun_tzu_chunks, sun_tzu_chunks[1:], strict=False))
    same_section = [(a, b) for a, b in pairs if a.section_index == b.section_index]
    assert same_section
    assert all(b.char_start < a.char_end for a, b in same_section)
    assert all(b.char_start >= a.char_end for a, b in pairs if a.section_index != b.section_index)


def test_content_hash_is_sha256_of_the_text(sun_tzu_chunks: list[BookChunk]) -> None:
    for chunk in sun_tzu_chunks:
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode("utf-8")).hexdigest()


def test_chunking_is_deterministic(
    sun_tzu: ExtractedBook, sun_tzu_chunks: list[BookChunk], tokenizer: MiniLMTokenizer
) -> None:
    assert chunk_book(sun_tzu, tokenizer) == sun_tzu_chunks


def test_matter_ranges_mark_their_chunks(sun_tzu_chunks: list[BookChunk]) -> None:
    front = [chunk for chunk in sun_tzu_chunks if chunk.section_index is None]
    assert front and all(chunk.is_matter for chunk in front)
    assert not any(chunk.is_matter for chunk in sun_tzu_chunks if chunk.section_index is not None)


def test_matter_boundary_inside_a_section_splits_chunks(tokenizer: MiniLMTokenizer) -> None:
    body = "The campaign opens in spring."
    colophon = "This ebook was produced by volunteers."
    text = f"{body} {colophon}"
    start = text.index(colophon)
    book = ExtractedBook("text", text, [TocEntry(1, "Only", 0)], matter_ranges=[(start, len(text))])
    chunks = chunk_book(book, tokenizer)
    assert [(chunk.text, chunk.is_matter) for chunk in chunks] == [(body, False), (colophon, True)]


def test_text_before_the_first_entry_has_no_section(tokenizer: MiniLMTokenizer) -> None:
    text = "Preface words.\n\nChapter one words."
    book = ExtractedBook("text", text, [TocEntry(1, "One", text.index("Chapter"))])
    chunks = chunk_book(book, tokenizer)
    assert [(chunk.text, chunk.section_index) for chunk in chunks] == [
        ("Preface words.", None),
        ("Chapter one words.", 0),
    ]


def test_section_index_points_into_the_unsorted_toc(tokenizer: MiniLMTokenizer) -> None:
    text = "Alpha section.\n\nBeta section."
    toc = [TocEntry(1, "Beta", text.index("Beta")), TocEntry(1, "Alpha", 0)]
    chunks = chunk_book(ExtractedBook("text", text, toc), tokenizer)
    assert [(chunk.text, chunk.section_index) for chunk in chunks] == [
        ("Alpha section.", 1),
        ("Beta section.", 0),
    ]


def test_whitespace_only_text_gives_no_chunks(tokenizer: MiniLMTokenizer) -> None:
    book = ExtractedBook("text", " \n\n\t  \n", [TocEntry(1, "Empty", 2)])
    assert chunk_book(book, tokenizer) == []


def test_pages_and_labels_come_from_the_page_spans(tokenizer: MiniLMTokenizer) -> None:
    first, second = paragraphs(1, sentences=3), paragraphs(1, sentences=3)
    text = f"{first}\n\f{second}"
    pages = [
        PageSpan(number=7, label="v", start=0, end=len(first) + 1),
        PageSpan(number=8, label="vi", start=len(first) + 1, end=len(text)),
    ]
    book = ExtractedBook("pdf", text, [], pages=pages)
    chunks = chunk_book(book, tokenizer, max_tokens=60, overlap_tokens=0)
    assert (chunks[0].page_start, chunks[0].page_label_start) == (7, "v")
    assert (chunks[-1].page_end, chunks[-1].page_label_end) == (8, "vi")
    straddling = [chunk for chunk in chunks if chunk.page_start != chunk.page_end]
    assert all((c.page_start, c.page_end) == (7, 8) for c in straddling)


def test_unpaged_books_have_no_page_numbers(tokenizer: MiniLMTokenizer) -> None:
    chunk = chunk_book(ExtractedBook("text", "Some words.", []), tokenizer)[0]
    assert (chunk.page_start, chunk.page_end, chunk.page_label_start) == (None, None, None)


def test_chunks_end_at_paragraph_breaks_when_one_is_near(tokenizer: MiniLMTokenizer) -> None:
    text = paragraphs(6, sentences=5)
    chunks = chunk_book(ExtractedBook("text", text, []), tokenizer, overlap_tokens=0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert text[chunk.char_end : chunk.char_end + 2] in ("\n\n", "")


def test_a_single_overlong_word_is_split_between_word_pieces(tokenizer: MiniLMTokenizer) -> None:
    text = "Intro words " + "=-" * 400 + " outro words"
    chunks = chunk_book(ExtractedBook("text", text, []), tokenizer)
    assert len(chunks) > 5
    counts = tokenizer.count_tokens([chunk.text for chunk in chunks])
    assert max(counts) <= DEFAULT_MAX_TOKENS
    assert counts == [chunk.token_count for chunk in chunks]
    assert chunks[0].text.startswith("Intro") and chunks[-1].text.endswith("outro words")


def test_limits_beyond_the_model_are_refused(tokenizer: MiniLMTokenizer) -> None:
    book = ExtractedBook("text", "Words.", [])
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_book(book, tokenizer, max_tokens=MODEL_TOKEN_LIMIT - 1)
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_book(book, tokenizer, max_tokens=10, overlap_tokens=10)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    words=st.lists(
        st.one_of(
            st.sampled_from(["war.", "Sun", "Tzu", "ground!", "—", "\n\n", "\n", "état", "東京"]),
            st.text(alphabet="ab.-=", min_size=1, max_size=60),
        ),
        max_size=300,
    ),
    max_tokens=st.integers(min_value=4, max_value=40),
    overlap=st.integers(min_value=0, max_value=3),
)
def test_any_text_is_cut_within_the_limit_without_losing_words(
    tokenizer: MiniLMTokenizer, words: list[str], max_tokens: int, overlap: int
) -> None:
    text = " ".join(words)
    book = ExtractedBook("text", text, [TocEntry(1, "Middle", len(text) // 2)])
    chunks = chunk_book(book, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap)
    counts = tokenizer.count_tokens([chunk.text for chunk in chunks])
    assert all(count <= max_tokens for count in counts)
    assert uncovered_characters(text, chunks) == []


@pytest.mark.parametrize("window", [40, 997, 100_000])
def test_windowed_tokenisation_gives_the_pieces_of_one_call(
    sun_tzu: ExtractedBook, tokenizer: MiniLMTokenizer, window: int
) -> None:
    # Cut only at whitespace, every window boundary falls where the pre-tokenizer splits anyway.
    text = sun_tzu.text + " Ünïcödé, 漢字テキスト — naïve café.\n\n" + "x" * 39 + " end"
    starts, ends = token_spans(tokenizer, text, window)
    whole = [tuple(span) for span in tokenizer.token_offsets(text)]
    assert list(zip(starts, ends, strict=True)) == whole
