"""Turning the bytes of a text book into str: BOM, then UTF-8, then a guarded encoding guess."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from hbi.errors import UnsupportedFormatError

# Longest BOMs first: the UTF-32-LE BOM begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How much worse (in charset-normalizer's "chaos" score) Windows-1252 may look than the best
# guess and still be preferred: on Western text the guesser often ranks Baltic or Central
# European code pages first on a tie, which turns "é" or "’" into the wrong letters.
_CP1252_TOLERANCE = 0.1
_SAMPLE = 64 * 1024


def decode_text(data: bytes, book: str) -> tuple[str, str]:
    """The decoded text and the name of the encoding used; raises when it is not text at all."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], encoding, book), encoding
    if b"\x00" in data[:_SAMPLE]:
        encoding = _bomless_utf16(data[:_SAMPLE])
        if encoding is None:
            raise UnsupportedFormatError(book, "binary data (NUL bytes), not text")
        return _strict(data, encoding, book), encoding
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        encoding = _guess_legacy_encoding(data, book)
        text = _strict(data, encoding, book)
    if _control_share(text[:_SAMPLE]) > 0.005:
        raise UnsupportedFormatError(book, "binary data (control characters), not text")
    return text, encoding


def _strict(data: bytes, encoding: str, book: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnsupportedFormatError(
            book, f"text is not valid {encoding} at byte {exc.start}"
        ) from exc


def _bomless_utf16(sample: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NULs sit in every other byte (ASCII-heavy UTF-16)."""
    even, odd = sample[0::2], sample[1::2]
    if odd and odd.count(0) >= 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even and even.count(0) >= 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def _guess_legacy_encoding(data: bytes, book: str) -> str:
    results = list(from_bytes(data))
    if not results:
        raise UnsupportedFormatError(book, "text in an encoding that could not be identified")
    best = results[0]
    contenders = {r.encoding for r in results if r.chaos <= best.chaos + _CP1252_TOLERANCE}
    # With no language evidence (coherence 0, typical of short files) every single-byte code
    # page ties; Windows-1252 is by far the most common legacy encoding of books.
    if "cp1252" in contenders or best.coherence == 0:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1" if "latin_1" in contenders else best.encoding
        return "cp1252"
    return best.encoding


def _control_share(sample: str) -> float:
    if not sample:
        return 0.0
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\x0c\x0b\x1a")
    return controls / len(sample)
