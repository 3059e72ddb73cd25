"""Format detection by content, text decoding, Markdown and plain-text structure, size limits."""

from __future__ import annotations

import random
import time
import zipfile
from io import BytesIO

import pytest

from hbi.errors import BookTooLargeError, EmptyBookError, UnsupportedFormatError
from hbi.extract import ExtractLimits, extract_book
from tests.extract.conftest import corpus_dir
from tests.extract.extract_samples import body_lines, build_pdf, build_zip, epub_entries

FRENCH = (
    "Le garçon était très content de son café. À Noël, la forêt était calme; l'élève répondit.\n\n"
)
QUOTED = "“Well,” said the café owner, “it’s naïve to think so — isn’t it?” Résumé… €5.\n\n"


def test_epub_named_pdf_is_read_as_epub():
    book = extract_book(build_zip(epub_entries()), "really-an-epub.pdf")
    assert book.format == "epub"


def test_pdf_named_epub_is_read_as_pdf():
    book = extract_book(build_pdf([body_lines(700, ["Just a PDF."])]), "really-a-pdf.epub")
    assert book.format == "pdf" and book.text == "Just a PDF."


def test_empty_file_is_empty():
    with pytest.raises(EmptyBookError, match=r"nothing\.txt: empty: .*0 bytes"):
        extract_book(b"", "nothing.txt")


def test_one_letter_file_is_a_one_letter_book():
    book = extract_book(b"a", "one.txt")
    assert book.text == "a" and book.toc == []


@pytest.mark.parametrize("byte", [b"!", b"%", b"#", b"*"])
def test_one_byte_of_punctuation_is_empty(byte):
    with pytest.raises(EmptyBookError, match=r"one\.pdf: empty: "):
        extract_book(byte, "one.pdf")


def test_one_nul_byte_is_not_text():
    with pytest.raises(UnsupportedFormatError, match=r"nul\.bin: unsupported format: binary"):
        extract_book(b"\x00", "nul.bin")


def test_whitespace_only_file_is_empty():
    with pytest.raises(EmptyBookError, match=r"blank\.txt: empty"):
        extract_book(b" \r\n\t\n", "blank.txt")


def test_latin1_text_is_decoded():
    book = extract_book((FRENCH * 3).encode("latin-1"), "french.txt")
    assert book.text.startswith("Le garçon était très content de son café. À Noël")
    assert any("decoded as" in w for w in book.warnings)


def test_cp1252_smart_quotes_are_decoded():
    book = extract_book((QUOTED * 3).encode("cp1252"), "quotes.txt")
    assert book.text.startswith("“Well,” said the café owner, “it’s naïve")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_bom_text_is_decoded(encoding):
    data = ("# Title\n\n" + QUOTED).encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    book = extract_book(data, "bom.txt")
    assert book.format == "markdown"
    assert book.text.startswith("Title\n\n“Well,”")


def test_utf16_without_bom_is_recognised():
    book = extract_book(("Plain words here.\n" * 20).encode("utf-16-le"), "nobom.txt")
    assert book.text.startswith("Plain words here. Plain words here.")


def test_plain_zip_is_unsupported():
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(
        UnsupportedFormatError,
        match=r"notes\.zip: unsupported format: a ZIP archive that is not an EPUB",
    ):
        extract_book(out.getvalue(), "notes.zip")


def test_random_binary_is_unsupported():
    data = random.Random(7).randbytes(64 * 1024)
    with pytest.raises(UnsupportedFormatError, match=r"noise\.bin: unsupported format: binary"):
        extract_book(data, "noise.bin")


def test_known_binary_format_is_named():
    with pytest.raises(UnsupportedFormatError, match=r"cover\.epub: .*a PNG image"):
        extract_book(b"\x89PNG\r\n\x1a\n" + bytes(100), "cover.epub")


def test_text_mentioning_the_pdf_header_stays_text():
    book = extract_book(b"About the %PDF- header: it starts every PDF.", "about.txt")
    assert book.format == "text"


def test_fifty_megabyte_single_line_is_refused_quickly():
    started = time.monotonic()
    with pytest.raises(
        BookTooLargeError, match=r"line\.txt: over a size limit: text has 50,000,000"
    ):
        extract_book(b"x" * 50_000_000, "line.txt")
    assert time.monotonic() - started < 5


def test_long_single_line_under_the_limit_is_one_paragraph():
    book = extract_book(b"word " * 1_000_000, "long.txt")
    assert book.text.count(" ") == 999_999 and "\n" not in book.text


def test_file_over_the_byte_limit_is_refused_before_parsing():
    with pytest.raises(BookTooLargeError, match=r"big\.pdf: .*limit is 1,000"):
        extract_book(b"%PDF-" + bytes(2000), "big.pdf", ExtractLimits(max_file_bytes=1000))


def test_markdown_heading_levels_are_kept_and_code_fences_hide_hashes():
    text = "# Book\n\nIntro.\n\n```\n# not a heading\n```\n\n### Deep\n\n## Mid\n\nText *with* [a link](http://x).\n"
    book = extract_book(text.encode(), "notes.txt")
    assert book.format == "markdown"
    assert [(e.level, e.title) for e in book.toc] == [(1, "Book"), (3, "Deep"), (2, "Mid")]
    assert "# not a heading" in book.text
    assert "Text with a link." in book.text


def test_markdown_heading_closing_hashes_are_dropped_only_after_a_space():
    text = "# One ##\n\n## C#\n\n#### Four # five\n\nBody.\n"
    book = extract_book(text.encode(), "hashes.md")
    assert [(e.level, e.title) for e in book.toc] == [
        (1, "One"),
        (2, "C#"),
        (4, "Four # five"),
    ]


def test_markdown_inline_markup_is_dropped():
    text = "# T\n\n**bold _it_** ``code`` ![cover](c.png) [link][ref] <http://a.b> <i>x</i>\n"
    book = extract_book(text.encode(), "inline.md")
    assert book.text == "T\n\nbold it code cover link http://a.b x"


def test_markdown_extension_breaks_the_tie_for_text_without_headings():
    assert extract_book(b"Just a line.", "note.md").format == "markdown"
    assert extract_book(b"Just a line.", "note.txt").format == "text"


def test_mixed_line_endings_are_normalised():
    book = extract_book(b"# One\r\n\r\nfirst line\r\nsecond line\n\n## Two\rthird\r", "mixed.md")
    assert book.text == "One\n\nfirst line second line\n\nTwo\n\nthird"
    assert [e.title for e in book.toc] == ["One", "Two"]


def test_plain_text_chapters_take_the_title_from_the_next_line():
    text = (
        "Contents\n\n CHAPTER I.   The Start\n CHAPTER II.  The End\n\n\n"
        "CHAPTER I.\nThe Start\n\nIt began.\n\nCHAPTER II.\nThe End\n\nIt ended.\n"
    )
    book = extract_book(text.encode(), "story.txt")
    assert [e.title for e in book.toc] == ["CHAPTER I. The Start", "CHAPTER II. The End"]
    assert book.toc_derived
    assert book.text.startswith("CHAPTER I. The Start\n\nIt began.", book.toc[0].offset)


def test_gutenberg_header_and_licence_are_matter():
    text = (
        "Header words.\n\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n"
        "The story.\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n\nLicence words.\n"
    )
    book = extract_book(text.encode(), "pg.txt")
    story = book.text.index("The story.")
    assert all(not (start <= story < end) for start, end in book.matter_ranges)
    assert any(start <= book.text.index("Licence") < end for start, end in book.matter_ranges)
    assert any(start <= book.text.index("Header") < end for start, end in book.matter_ranges)


def test_sun_tzu_header_headings_become_metadata():
    path = corpus_dir() / "sun-tzu_the-art-of-war.md"
    assert path.is_file(), path
    book = extract_book(path.read_bytes(), path.name)
    assert book.metadata.title == "The Art of War"
    assert book.metadata.authors == ("Sun Tzu",)
    assert book.metadata.date == "500 BC"
