"""Every book of the shared corpus extracts with its true ToC, sane offsets, pages and metadata."""

from __future__ import annotations

import json

import pytest

from tests.extract.conftest import corpus_books, corpus_dir

BOOKS = corpus_books()
PDFS = [name for name in BOOKS if name.endswith(".pdf")] or BOOKS
# What the metadata must say for the books we know; other books only get the generic checks.
KNOWN_METADATA = {
    "ambrose-bierce_the-devils-dictionary.epub": ("The Devil’s Dictionary", "Ambrose Bierce"),
    "arthur-conan-doyle_the-adventures-of-sherlock-holmes.epub": (
        "The Adventures of Sherlock Holmes",
        "Arthur Conan Doyle",
    ),
    "jane-austen_pride-and-prejudice.epub": ("Pride and Prejudice", "Jane Austen"),
    "lewis-carroll_alices-adventures-in-wonderland.txt": (
        "Alice's Adventures in Wonderland",
        "Lewis Carroll",
    ),
    "sun-tzu_the-art-of-war.md": ("The Art of War", "Sun Tzu"),
    "h-g-wells_the-time-machine.pdf": ("The Time Machine", "H. G. Wells"),
    "nist-ir-8202_blockchain-technology-overview.pdf": (
        "Blockchain Technology Overview",
        "Dylan Yaga",
    ),
    "nist-sp-800-88r1_guidelines-for-media-sanitization.pdf": (
        "Guidelines for Media Sanitization",
        "Kissel, Richard L.",
    ),
}


def expected_toc(name: str) -> list[dict]:
    path = corpus_dir() / "expected-toc" / f"{name.rsplit('.', 1)[0]}.toc.json"
    if not path.is_file():
        pytest.fail(f"no expected ToC for {name}: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def test_corpus_folder_holds_books_and_expected_tocs():
    folder = corpus_dir()
    assert folder.is_dir(), f"shared corpus not found at {folder}; set HBI_SHARED_DIR"
    books = [name for name in BOOKS if not name.startswith("<")]
    assert len(books) >= 8
    for name in books:
        assert (folder / "expected-toc" / f"{name.rsplit('.', 1)[0]}.toc.json").is_file()


@pytest.mark.parametrize("corpus_book", BOOKS, indirect=True)
def test_toc_equals_the_expected_toc(corpus_book):
    name, book = corpus_book
    paged = name.endswith(".pdf")
    expected = [
        {"level": e["level"], "title": e["title"], "page": e.get("page") if paged else None}
        for e in expected_toc(name)
    ]
    actual = [{"level": e.level, "title": e.title, "page": e.page} for e in book.toc]
    assert actual == expected


@pytest.mark.parametrize("corpus_book", BOOKS, indirect=True)
def test_toc_offsets_are_non_decreasing_and_inside_the_text(corpus_book):
    _, book = corpus_book
    offsets = [entry.offset for entry in book.toc]
    assert offsets == sorted(offsets)
    assert all(0 <= offset < len(book.text) for offset in offsets)


@pytest.mark.parametrize("corpus_book", PDFS, indirect=True)
def test_pdf_toc_entries_lie_on_their_target_page(corpus_book):
    _, book = corpus_book
    for entry in book.toc:
        page = book.pages[entry.page - 1]
        assert page.number == entry.page
        assert page.start <= entry.offset <= page.end, entry


@pytest.mark.parametrize("corpus_book", PDFS, indirect=True)
def test_pdf_pages_are_ordered_slices_of_the_text(corpus_book):
    _, book = corpus_book
    assert [page.number for page in book.pages] == list(range(1, len(book.pages) + 1))
    previous_end = 0
    for page in book.pages:
        assert previous_end <= page.start <= page.end <= len(book.text)
        previous_end = page.end
    assert sum(page.end > page.start for page in book.pages) == len(book.pages)


@pytest.mark.parametrize("corpus_book", PDFS, indirect=True)
def test_pdf_running_headers_and_page_numbers_are_dropped(corpus_book):
    name, book = corpus_book
    if name.startswith("nist-ir-8202"):
        assert "BLOCKCHAIN TECHNOLOGY OVERVIEW" not in book.text
        # The vertical margin note repeats on every page; only the three title pages keep it.
        front_matter_end = book.pages[2].end
        assert "available free of charge" not in book.text[front_matter_end:]
    paragraphs = book.text.split("\n\n")
    assert not [p for p in paragraphs if p.isdigit()]


@pytest.mark.parametrize("corpus_book", BOOKS, indirect=True)
def test_text_is_clean_paragraphs(corpus_book):
    _, book = corpus_book
    assert book.text
    assert "\r" not in book.text and "\n\n\n" not in book.text
    for paragraph in book.text.split("\n\n"):
        assert paragraph and paragraph == " ".join(paragraph.split()), paragraph[:80]
    assert "\ufffe" not in book.text and "\u00ad" not in book.text


@pytest.mark.parametrize("corpus_book", BOOKS, indirect=True)
def test_metadata_names_title_and_authors(corpus_book):
    name, book = corpus_book
    title, author = KNOWN_METADATA.get(name, (None, None))
    if title is None:
        assert book.metadata.title or book.metadata.authors
    else:
        assert book.metadata.title == title
        assert author in book.metadata.authors
    for person in book.metadata.authors:
        assert person == person.strip(" ;?,") and person


@pytest.mark.parametrize("corpus_book", BOOKS, indirect=True)
def test_headings_of_text_books_start_their_sections(corpus_book):
    _, book = corpus_book
    if book.format in ("text", "markdown"):
        for entry in book.toc:
            assert book.text.startswith(entry.title, entry.offset)
            assert entry.offset == 0 or book.text[entry.offset - 2 : entry.offset] == "\n\n"


@pytest.mark.parametrize("corpus_book", BOOKS, indirect=True)
def test_standard_ebooks_front_and_back_matter_is_marked(corpus_book):
    _, book = corpus_book
    if book.format != "epub":
        return
    in_matter = {
        entry.title: any(start <= entry.offset < end for start, end in book.matter_ranges)
        for entry in book.toc
    }
    assert in_matter["Titlepage"] and in_matter["Imprint"]
    assert in_matter["Colophon"] and in_matter["Uncopyright"]
    assert sum(in_matter.values()) <= 5  # the half-title page at most besides those four


@pytest.mark.parametrize(
    "corpus_book", ["lewis-carroll_alices-adventures-in-wonderland.txt"], indirect=True
)
def test_alice_contents_list_is_matter_not_chapters(corpus_book):
    _, book = corpus_book
    contents = book.text.index("Contents")
    assert book.toc_derived
    assert book.toc[0].offset > contents
    assert any(start <= contents < end for start, end in book.matter_ranges)
