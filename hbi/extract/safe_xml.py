"""Parsing untrusted XML and XHTML from EPUBs without expanding or fetching any entity.

The parser never loads a DTD, never touches the network and never substitutes entities.
A document that declares its own entities (the vehicle of XXE and "billion laughs") has its
DOCTYPE internal subset removed before parsing, with a warning: such declarations have no
legitimate use in an EPUB. HTML named entities (`&nbsp;`, `&mdash;`), which EPUB 2 XHTML uses
relying on a DTD we do not load, are turned into character references first; references to
entities nobody defines are dropped.
"""

from __future__ import annotations

import html.entities
import re

from lxml import etree

from hbi.errors import CorruptBookError

_XML_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED_REFERENCE = re.compile(rb"&([A-Za-z][A-Za-z0-9]{0,31});")
# The DOCTYPE with its internal subset; quoted strings inside may hold "]>". Possessive
# quantifiers, tried at the first DOCTYPE only, keep the scan linear: a backtracking pattern
# tried at every "<!DOCTYPE" of a hostile document takes time quadratic in its size.
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*+\[(?:[^\]\"']++|\"[^\"]*+\"|'[^']*+')*+\]\s*+>")
_HTML_CODEPOINTS = {
    name[:-1].encode("ascii"): text
    for name, text in html.entities.html5.items()
    if name.endswith(";") and name[:-1] not in _XML_PREDEFINED
}


def _xml_parser(recover: bool) -> etree.XMLParser:
    # A fresh parser per document: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=recover,
    )


def parse_untrusted_xml(
    raw: bytes, book: str, member: str, warnings: list[str], *, html_fallback: bool = False
) -> etree._Element:
    """The root element of the document; tolerant of sloppy markup, raises when unreadable.

    `html_fallback` lets content documents that are HTML rather than XHTML go through lxml's
    HTML parser (which loads no DTD and resolves no external entity either).
    """
    if b"<!ENTITY" in raw:
        raw = _without_internal_subset(raw)
        warnings.append(f"{member}: entity declarations ignored (possible XXE or entity bomb)")
    raw = _NAMED_REFERENCE.sub(_named_to_numeric, raw)
    try:
        return etree.fromstring(raw, _xml_parser(recover=False))
    except etree.XMLSyntaxError as exc:
        reason = exc.msg or str(exc)
    root = None
    try:
        root = etree.fromstring(raw, _xml_parser(recover=True))
    except etree.XMLSyntaxError:
        root = None
    if root is None and html_fallback:
        root = etree.fromstring(raw, etree.HTMLParser(no_network=True, remove_comments=True))
    if root is None:
        raise CorruptBookError(book, f"{member} is not well-formed XML ({reason})")
    warnings.append(f"{member}: malformed XML recovered ({reason})")
    return root


def _without_internal_subset(raw: bytes) -> bytes:
    """The document with the internal subset of its DOCTYPE (the first one) cut out."""
    start = raw.find(b"<!DOCTYPE")
    match = _INTERNAL_SUBSET.match(raw, start) if start >= 0 else None
    return raw[: match.start()] + raw[match.end() :] if match else raw


def local_name(element: etree._Element) -> str:
    """The element's tag without its namespace ("" for comments and entities)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].casefold()


def _named_to_numeric(match: re.Match[bytes]) -> bytes:
    name = match[1]
    if name.decode("ascii") in _XML_PREDEFINED:
        return match[0]
    # References to entities nobody defines (or whose declaration we removed) are dropped:
    # left in, libxml2's recovery mode would also swallow the text after them.
    text = _HTML_CODEPOINTS.get(name, "")
    return b"".join(b"&#%d;" % ord(ch) for ch in text)
