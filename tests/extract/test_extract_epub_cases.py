"""EPUB extraction on hand-made hostile and damaged EPUBs: typed errors or degraded books."""

from __future__ import annotations

import io
import struct
import time
import zipfile

import pytest

from hbi.errors import BookTooLargeError, CorruptBookError, EncryptedBookError
from hbi.extract import ExtractLimits, extract_book
from tests.extract.extract_samples import LAUGHS_DOCTYPE, XXE_DOCTYPE, build_zip, epub_entries


def test_small_epub_gives_text_toc_and_metadata():
    book = extract_book(build_zip(epub_entries()), "small.epub")
    assert book.format == "epub"
    assert [(e.level, e.title) for e in book.toc] == [
        (1, "Chapter One"),
        (2, "Part B"),
        (1, "Chapter Two"),
    ]
    assert book.text.startswith("Part B begins here.", book.toc[1].offset)
    assert book.text.startswith("Chapter Two", book.toc[2].offset)
    assert book.metadata.title == "A Small Book"
    assert book.metadata.authors == ("Ada Example", "Ben Sample")
    assert "urn:isbn:9780000000001" in book.metadata.identifiers
    assert not book.warnings


def test_zip_bomb_entry_is_refused_before_inflating():
    entries = epub_entries()
    entries["OEBPS/images/bomb.bin"] = bytes(20 * 1024 * 1024)
    with pytest.raises(
        BookTooLargeError, match=r"bomb\.epub: .*bomb\.bin.*compression ratio.*zip bomb"
    ):
        extract_book(build_zip(entries), "bomb.epub")


def test_entry_bigger_than_the_entry_limit_is_refused():
    entries = epub_entries()
    entries["OEBPS/images/big.bin"] = bytes(range(256)) * 8192  # 2 MiB, barely compressible
    limits = ExtractLimits(max_zip_entry_bytes=1024 * 1024)
    with pytest.raises(BookTooLargeError, match=r"big\.epub: .*big\.bin.*inflates to"):
        extract_book(build_zip(entries), "big.epub", limits)


def test_bomb_spread_over_many_small_entries_is_refused_by_the_archive_ratio():
    entries = epub_entries()
    # Each entry is under the 1 MiB below which single entries are not ratio-checked.
    entries.update({f"OEBPS/fill/{n}.xhtml": b"<p>a</p>" * 100_000 for n in range(20)})
    with pytest.raises(
        BookTooLargeError, match=r"spread\.epub: .*ratio \d+:1 over all its entries.*zip bomb"
    ):
        extract_book(build_zip(entries), "spread.epub")


def test_spine_document_over_the_document_limit_is_refused_before_parsing():
    entries = epub_entries(chapter_body="Plain words. " * 20_000)
    limits = ExtractLimits(max_document_bytes=100_000)
    with pytest.raises(
        BookTooLargeError, match=r"long\.epub: .*chapter1\.xhtml' inflates to [\d,]+ bytes"
    ):
        extract_book(build_zip(entries), "long.epub", limits)


def test_documents_over_the_total_parse_limit_are_refused():
    entries = epub_entries(chapter_body="Plain words. " * 20_000)
    limits = ExtractLimits(max_documents_total_bytes=200_000)
    with pytest.raises(
        BookTooLargeError, match=r"parse\.epub: .*documents to parse exceed 200,000"
    ):
        extract_book(build_zip(entries), "parse.epub", limits)


def test_entry_whose_directory_understates_its_size_is_caught_on_read():
    entries = epub_entries(chapter_body="padding " * 50_000)
    data = bytearray(build_zip(entries))
    name = b"OEBPS/text/chapter1.xhtml"
    # Rewrite the uncompressed size in the local header and the central directory to 100.
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            name_offset = 30 if signature == b"PK\x03\x04" else 46
            if data[at + name_offset : at + name_offset + len(name)] == name:
                data[at + size_offset : at + size_offset + 4] = struct.pack("<I", 100)
            at = data.find(signature, at + 4)
    with pytest.raises((CorruptBookError, BookTooLargeError), match=r"liar\.epub: "):
        extract_book(bytes(data), "liar.epub")


def test_unsafe_entries_are_never_read_and_only_warned_about():
    entries = epub_entries()
    entries["../evil.xhtml"] = b"<html>evil</html>"
    entries["/etc/evil.xhtml"] = b"<html>evil</html>"
    entries["OEBPS/link.xhtml"] = b"/etc/passwd"
    book = extract_book(build_zip(entries, symlinks=frozenset({"OEBPS/link.xhtml"})), "unsafe.epub")
    assert "evil" not in book.text
    assert sum("unsafe archive entry" in w for w in book.warnings) == 3


def test_spine_item_escaping_the_archive_is_an_error():
    entries = epub_entries(chapter1_href="../../evil.xhtml")
    entries["../evil.xhtml"] = b"<html><body><p>evil</p></body></html>"
    with pytest.raises(
        CorruptBookError, match=r"escape\.epub: .*unsafe archive path '\.\./evil\.xhtml'"
    ):
        extract_book(build_zip(entries), "escape.epub")


def test_spine_item_that_is_a_symlink_is_an_error():
    entries = epub_entries()
    with pytest.raises(CorruptBookError, match=r"symlink\.epub: .*unsafe archive path"):
        extract_book(
            build_zip(entries, symlinks=frozenset({"OEBPS/text/chapter1.xhtml"})), "symlink.epub"
        )


def test_spine_item_at_an_absolute_path_is_an_error():
    entries = epub_entries(chapter1_href="/etc/passwd")
    with pytest.raises(
        CorruptBookError, match=r"absolute\.epub: .*unsafe archive path '/etc/passwd'"
    ):
        extract_book(build_zip(entries), "absolute.epub")


@pytest.mark.parametrize("where", ["opf", "chapter"])
def test_external_entity_is_neither_fetched_nor_expanded(where):
    entries = epub_entries(
        opf_doctype=XXE_DOCTYPE if where == "opf" else "",
        chapter_doctype=XXE_DOCTYPE if where == "chapter" else "",
        chapter_body="Before &xxe; after.",
        title_suffix="&xxe;" if where == "opf" else "",
    )
    book = extract_book(build_zip(entries), "xxe.epub")
    assert "root:" not in book.text and "root:" not in str(book.metadata)
    assert "Before after." in book.text
    assert book.metadata.title == "A Small Book"
    assert any("entity declarations ignored" in w for w in book.warnings)


@pytest.mark.parametrize("where", ["opf", "chapter"])
def test_billion_laughs_does_not_expand(where):
    entries = epub_entries(
        opf_doctype=LAUGHS_DOCTYPE if where == "opf" else "",
        chapter_doctype=LAUGHS_DOCTYPE if where == "chapter" else "",
        chapter_body="Laugh: &lol9;!",
        title_suffix="&lol9;" if where == "opf" else "",
    )
    book = extract_book(build_zip(entries), "laughs.epub")
    assert "lollol" not in book.text and "lollol" not in str(book.metadata)
    assert len(book.text) < 1000
    assert any("entity declarations ignored" in w for w in book.warnings)


def test_flood_of_doctype_openings_is_stripped_in_linear_time():
    # 70,000 unclosed "<!DOCTYPE a [": the subset pattern used to rescan from each (minutes).
    flood = "\n<!DOCTYPE a [" * 70_000 + '<!ENTITY xxe SYSTEM "file:///etc/passwd">'

    entries = epub_entries(chapter_doctype=flood)
    started = time.monotonic()
    book = extract_book(build_zip(entries), "flood.epub")
    assert "The second chapter." in book.text
    assert time.monotonic() - started < 10


def test_container_naming_a_missing_opf_is_corrupt():
    entries = epub_entries()
    del entries["OEBPS/content.opf"]
    with pytest.raises(
        CorruptBookError,
        match=r"no-opf\.epub: .*OPF package document 'OEBPS/content\.opf' is missing",
    ):
        extract_book(build_zip(entries), "no-opf.epub")


def test_epub_without_container_or_opf_is_corrupt():
    entries = epub_entries()
    del entries["OEBPS/content.opf"], entries["META-INF/container.xml"]
    with pytest.raises(CorruptBookError, match=r"bare\.epub: .*no META-INF/container\.xml"):
        extract_book(build_zip(entries), "bare.epub")


def test_nav_entry_pointing_at_a_missing_file_is_dropped_with_a_warning():
    entries = epub_entries(nav_extra='<li><a href="text/gone.xhtml">Gone</a></li>')
    book = extract_book(build_zip(entries), "gone.epub")
    assert [e.title for e in book.toc] == ["Chapter One", "Part B", "Chapter Two"]
    assert any("'Gone'" in w and "text/gone.xhtml" in w for w in book.warnings)


def test_spine_items_missing_from_manifest_or_archive_are_skipped():
    entries = epub_entries(
        spine='<itemref idref="c1"/><itemref idref="ghost"/><itemref idref="c2"/>'
    )
    del entries["OEBPS/text/chapter2.xhtml"]
    book = extract_book(build_zip(entries), "holes.epub")
    assert "The first chapter has words." in book.text
    assert any("'ghost' is not in the manifest" in w for w in book.warnings)
    assert any("chapter2.xhtml' is missing" in w for w in book.warnings)
    assert [e.title for e in book.toc] == ["Chapter One", "Part B"]


def test_epub_whose_spine_documents_are_all_missing_is_corrupt():
    entries = epub_entries()
    del entries["OEBPS/text/chapter1.xhtml"], entries["OEBPS/text/chapter2.xhtml"]
    with pytest.raises(CorruptBookError, match=r"hollow\.epub: .*no readable spine document"):
        extract_book(build_zip(entries), "hollow.epub")


def test_epub_without_nav_derives_its_toc_from_headings():
    entries = epub_entries()
    entries["OEBPS/content.opf"] = entries["OEBPS/content.opf"].replace(b' properties="nav"', b"")
    book = extract_book(build_zip(entries), "no-nav.epub")
    assert book.toc_derived
    assert [e.title for e in book.toc] == ["Chapter One", "Chapter Two"]


DRM_ENCRYPTION = b"""<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
  xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>
  <enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
  <enc:CipherData><enc:CipherReference URI="OEBPS/text/chapter1.xhtml"/></enc:CipherData>
  </enc:EncryptedData></encryption>"""


def test_drm_encrypted_epub_is_refused():
    entries = epub_entries()
    entries["META-INF/encryption.xml"] = DRM_ENCRYPTION
    with pytest.raises(EncryptedBookError, match=r"drm\.epub: encrypted: .*chapter1\.xhtml"):
        extract_book(build_zip(entries), "drm.epub")


def test_truncated_epub_is_corrupt():
    data = build_zip(epub_entries())
    with pytest.raises(
        CorruptBookError, match=r"cut\.epub: corrupt file: EPUB archive is unreadable"
    ):
        extract_book(data[: len(data) // 2], "cut.epub")


def test_too_many_entries_is_refused():
    entries = epub_entries()
    entries.update({f"OEBPS/misc/{n}.txt": b"x" for n in range(50)})
    with pytest.raises(BookTooLargeError, match=r"many\.epub: .*entries; the limit is 20"):
        extract_book(build_zip(entries), "many.epub", ExtractLimits(max_zip_entries=20))


def test_stored_mimetype_entry_alone_identifies_an_epub():
    entries = epub_entries()
    del entries["META-INF/container.xml"]
    book = extract_book(build_zip(entries), "no-container.epub")
    assert book.format == "epub"
    assert any("no META-INF/container.xml" in w for w in book.warnings)


def test_zip_crc_damage_is_corrupt():
    data = bytearray(build_zip(epub_entries()))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("OEBPS/text/chapter1.xhtml")
    data[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF
    with pytest.raises(CorruptBookError, match=r"crc\.epub: .*chapter1\.xhtml"):
        extract_book(bytes(data), "crc.epub")


def test_entity_declarations_that_dodge_the_doctype_filter_still_do_not_expand():
    tricky = '\n<!DOCTYPE html [ <!ENTITY a "]>"> <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>'
    entries = epub_entries(chapter_doctype=tricky, chapter_body="Before &xxe; after &a;.")
    book = extract_book(build_zip(entries), "tricky.epub")
    assert "root:" not in book.text
    assert "Before after ." in book.text


def test_nav_heading_without_a_link_takes_its_first_childs_offset():
    extra = (
        '<li><span>Part Two</span><ol><li><a href="text/chapter2.xhtml">Again</a></li></ol></li>'
    )
    book = extract_book(build_zip(epub_entries(nav_extra=extra)), "span.epub")
    entries = {e.title: e for e in book.toc}
    assert entries["Part Two"].level == 1 and entries["Again"].level == 2
    assert entries["Part Two"].offset == entries["Again"].offset == entries["Chapter Two"].offset
    assert not book.warnings


NCX = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" "http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>
  <navPoint id="n1" playOrder="1"><navLabel><text>Chapter One</text></navLabel>
    <content src="text/chapter1.xhtml"/>
    <navPoint id="n2" playOrder="2"><navLabel><text>Part B</text></navLabel>
      <content src="text/chapter1.xhtml#part-b"/></navPoint>
  </navPoint>
  <navPoint id="n3" playOrder="3"><navLabel><text>Chapter Two</text></navLabel>
    <content src="text/chapter2.xhtml"/></navPoint>
</navMap></ncx>"""


def test_epub2_toc_comes_from_the_ncx_and_html_entities_survive():
    entries = epub_entries(chapter_body="Caf&eacute; &mdash; na&iuml;ve&nbsp;text.")
    opf = entries["OEBPS/content.opf"].decode()
    opf = opf.replace('version="3.0"', 'version="2.0"').replace(' properties="nav"', "")
    opf = opf.replace(
        "</manifest>",
        '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/></manifest>',
    )
    entries["OEBPS/content.opf"] = opf.replace("<spine>", '<spine toc="ncx">').encode()
    entries["OEBPS/toc.ncx"] = NCX
    del entries["OEBPS/nav.xhtml"]
    book = extract_book(build_zip(entries), "epub2.epub")
    assert [(e.level, e.title) for e in book.toc] == [
        (1, "Chapter One"),
        (2, "Part B"),
        (1, "Chapter Two"),
    ]
    assert not book.toc_derived
    assert "Café — naïve text." in book.text
