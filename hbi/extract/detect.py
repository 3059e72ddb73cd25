"""Recognising a book's format from its bytes, never from its name."""

from __future__ import annotations

import struct
from enum import StrEnum

from hbi.errors import UnsupportedFormatError


class BookFormat(StrEnum):
    PDF = "pdf"
    EPUB = "epub"
    TEXT = "text"


EPUB_MIMETYPE = b"application/epub+zip"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Signatures of binary formats people plausibly drop into a book bucket by mistake. Only
# prefixes of three or more distinctive bytes: shorter ones ("MZ", "BZh") also start real text,
# and those binaries are caught anyway by the control-character check on decoding.
_BINARY_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"AT&TFORM", "a DjVu document"),
    (b"\x1f\x8b\x08", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office (OLE2) file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript document"),
    (b"OggS", "an Ogg media file"),
    (b"fLaC", "a FLAC audio file"),
    (b"ID3", "an MP3 audio file"),
)


def detect_format(data: bytes, book: str) -> BookFormat:
    """The format the bytes are in; raises for archives and binaries that are not books."""
    pdf_at = data.find(b"%PDF-", 0, 1024)
    # PDF readers accept a header anywhere in the first KiB (after e.g. a MacBinary prefix),
    # but text that merely mentions "%PDF-" must stay text, so junk before it must be binary.
    if pdf_at == 0 or (pdf_at > 0 and _looks_binary(data[:pdf_at])):
        return BookFormat.PDF
    if data.startswith(_ZIP_MAGICS):
        return _detect_zip(data, book)
    if data[60:68] in (b"BOOKMOBI", b"TEXtREAd"):
        raise UnsupportedFormatError(
            book, "a MOBI/AZW (Kindle) or PalmDOC book; convert it to EPUB"
        )
    for magic, description in _BINARY_MAGICS:
        if data.startswith(magic):
            raise UnsupportedFormatError(book, f"the file is {description}, not a book")
    return BookFormat.TEXT


def _detect_zip(data: bytes, book: str) -> BookFormat:
    """EPUB when the first entry is a stored `mimetype` saying so, or a container.xml exists.

    Read from the raw bytes rather than through zipfile, so that a hostile central directory
    (millions of entries) costs nothing before EpubArchive checks its limits.
    """
    if _first_entry_is_epub_mimetype(data) or b"META-INF/container.xml" in data:
        return BookFormat.EPUB
    raise UnsupportedFormatError(
        book, "a ZIP archive that is not an EPUB (no mimetype entry, no META-INF/container.xml)"
    )


def _first_entry_is_epub_mimetype(data: bytes) -> bool:
    if len(data) < 30 or not data.startswith(b"PK\x03\x04"):
        return False
    # Local file header: compression method at byte 8, name and extra-field lengths at 26.
    (method,) = struct.unpack_from("<H", data, 8)
    name_length, extra_length = struct.unpack_from("<HH", data, 26)
    name = data[30 : 30 + name_length]
    content_at = 30 + name_length + extra_length
    content = data[content_at : content_at + len(EPUB_MIMETYPE)]
    return name == b"mimetype" and method == 0 and content == EPUB_MIMETYPE


def _looks_binary(prefix: bytes) -> bool:
    return any(byte < 9 or 13 < byte < 32 for byte in prefix)
