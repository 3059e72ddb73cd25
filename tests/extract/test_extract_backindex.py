"""Back-of-book indexes ("term, 12, 45–47") become IndexTerm entries with parents and pages."""

from __future__ import annotations

from hbi.books.book import IndexTerm
from hbi.extract import extract_book
from hbi.extract.backindex import IndexLine, indents_from_columns, parse_index_lines
from tests.extract.extract_samples import Bookmark, Run, body_lines, build_pdf

INDEX_LINES = [
    (0, "blockchain, 12, 45–47"),
    (2, "permissioned, 16"),
    (2, "permissionless, 16-18, xii"),
    (0, "consensus model, 20. See also proof of work"),
    (0, "Lamport, Leslie, 13"),
    (0, "blockchain, forks, 40"),
    (0, "hash function ......... 18, 20,"),
    (0, "22"),
    (0, "B"),
    (0, "World War II, 7"),
]


def test_index_lines_parse_into_terms_with_parents_and_pages():
    terms = parse_index_lines(IndexLine(indent, text) for indent, text in INDEX_LINES)
    assert terms == [
        IndexTerm("blockchain", (), ("12", "45–47")),
        IndexTerm("permissioned", ("blockchain",), ("16",)),
        IndexTerm("permissionless", ("blockchain",), ("16–18", "xii")),
        IndexTerm("consensus model", (), ("20",)),
        IndexTerm("Lamport, Leslie", (), ("13",)),
        IndexTerm("forks", ("blockchain",), ("40",)),
        IndexTerm("hash function", (), ("18", "20", "22")),
        IndexTerm("World War II", (), ("7",)),
    ]


def test_indents_are_measured_within_each_column():
    xs = [72, 84, 84, 72, 320, 332, 320, 72, 320, 84]
    assert indents_from_columns(xs) == [0, 12, 12, 0, 0, 12, 0, 0, 0, 12]


def test_pdf_index_section_is_parsed():
    chapter = [Run(72, 700, "Chapter One", 20, True)] + body_lines(
        670, ["Blockchains are ledgers."]
    )
    index_page = [Run(72, 700, "Index", 20, True)] + [
        Run(72 + 12 * indent, 670 - 14 * row, text)
        for row, (indent, text) in enumerate(INDEX_LINES[:3])
    ]
    outline = [Bookmark("Chapter One", 0), Bookmark("Index", 1)]
    book = extract_book(build_pdf([chapter, index_page], outline=outline), "indexed.pdf")
    assert book.back_index == [
        IndexTerm("blockchain", (), ("12", "45–47")),
        IndexTerm("permissioned", ("blockchain",), ("16",)),
        IndexTerm("permissionless", ("blockchain",), ("16–18", "xii")),
    ]


def test_pdf_index_is_found_without_an_outline():
    chapter = [Run(72, 700, "Chapter One", 20, True)] + body_lines(670, ["Some text."])
    index_page = [Run(72, 700, "Index", 20, True), Run(72, 670, "ledger, 3, 9")]
    book = extract_book(build_pdf([chapter, chapter, index_page]), "derived-index.pdf")
    assert book.back_index == [IndexTerm("ledger", (), ("3", "9"))]


def test_text_index_section_is_parsed():
    body = "\n\n".join(f"Paragraph {n} of the book." for n in range(30))
    index = "\n".join(" " * (4 * indent) + text for indent, text in INDEX_LINES[:3])
    book = extract_book(f"{body}\n\nINDEX\n\n{index}\n".encode(), "indexed.txt")
    assert [(t.term, t.parents) for t in book.back_index] == [
        ("blockchain", ()),
        ("permissioned", ("blockchain",)),
        ("permissionless", ("blockchain",)),
    ]


def test_corpus_like_books_without_an_index_have_none():
    book = extract_book(b"Chapter text only.\n\nNo index here.", "plain.txt")
    assert book.back_index == []
