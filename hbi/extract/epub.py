"""EPUB 2 and 3 books: spine documents in reading order, the ToC from the nav or NCX.

How damaged EPUBs are treated (typed error = the book fails; warning = a degraded result):
- no OPF (container.xml missing and no single .opf, or naming a missing file): CorruptBookError;
- spine items missing from the manifest or the archive, or unparseable: skipped with a warning;
  no readable spine document at all: CorruptBookError;
- a spine item or the OPF at an unsafe path (`..`, absolute, symlink): CorruptBookError;
- ToC entries pointing at a missing file: dropped with a warning; at a missing fragment: the
  start of the file, with a warning; a nav/NCX that is missing or empty: the ToC is derived from
  the h1–h6 headings of the spine documents (toc_derived=True);
- content encrypted with anything but font obfuscation (DRM): EncryptedBookError.
"""

from __future__ import annotations

from collections.abc import Iterable

from hbi.books.book import ExtractedBook, IndexTerm, TocEntry
from hbi.errors import CorruptBookError, EmptyBookError, EncryptedBookError
from hbi.extract.backindex import parse_index_lines
from hbi.extract.book_text import PARAGRAPH_BREAK, BookTextBuilder
from hbi.extract.epub_archive import EpubArchive, MissingEntryError
from hbi.extract.epub_nav import NavPoint, nav_points, ncx_points
from hbi.extract.epub_package import (
    XHTML_TYPES,
    Package,
    find_package_path,
    read_package,
)
from hbi.extract.limits import ExtractLimits
from hbi.extract.safe_xml import local_name, parse_untrusted_xml
from hbi.extract.xhtml import RenderedDocument, render_document

ENCRYPTION_PATH = "META-INF/encryption.xml"
# Font obfuscation (IDPF and Adobe) scrambles embedded fonts only; it is not DRM.
_FONT_OBFUSCATION = frozenset(
    {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
)


def extract_epub(data: bytes, name: str, limits: ExtractLimits) -> ExtractedBook:
    """The EPUB's spine text in reading order with its own ToC, metadata and matter ranges."""
    archive = EpubArchive(data, name, limits)
    warnings = archive.warnings
    package = read_package(archive, find_package_path(archive, warnings), warnings)
    _refuse_drm(archive, package, warnings)
    builder = BookTextBuilder(name, limits.max_text_chars)
    documents = _render_spine(archive, package, builder, warnings)
    text = builder.text()
    if not text:
        raise EmptyBookError(name, "the EPUB's spine documents hold no text")
    toc, derived = _toc(archive, package, documents, len(text), limits, warnings)
    matter = [span for doc in documents.values() for span in doc.matter]
    return ExtractedBook(
        format="epub",
        text=text,
        toc=toc,
        metadata=package.metadata,
        toc_derived=derived,
        back_index=_back_index(documents.values()),
        matter_ranges=_merge(matter),
        warnings=warnings,
    )


def _render_spine(
    archive: EpubArchive, package: Package, builder: BookTextBuilder, warnings: list[str]
) -> dict[str, RenderedDocument]:
    documents: dict[str, RenderedDocument] = {}
    for idref in package.spine:
        item = package.manifest.get(idref)
        if item is None:
            warnings.append(f"spine item {idref!r} is not in the manifest; skipped")
            continue
        if item.media_type not in XHTML_TYPES or item.path in documents:
            continue
        try:
            raw = archive.read(item.path)
        except MissingEntryError:
            warnings.append(f"spine document {item.path!r} is missing from the archive; skipped")
            continue
        try:
            root = parse_untrusted_xml(raw, archive.book, item.path, warnings, html_fallback=True)
        except CorruptBookError as exc:
            warnings.append(f"spine document skipped: {exc.reason}")
            continue
        documents[item.path] = render_document(root, builder)
    if not documents:
        raise CorruptBookError(archive.book, "the EPUB has no readable spine document")
    return documents


def _toc(
    archive: EpubArchive,
    package: Package,
    documents: dict[str, RenderedDocument],
    text_length: int,
    limits: ExtractLimits,
    warnings: list[str],
) -> tuple[list[TocEntry], bool]:
    """The ToC from the nav (EPUB 3) or NCX (EPUB 2), else derived from headings."""
    points = _declared_points(archive, package, limits, warnings)
    entries = _locate(points, documents, text_length, warnings)
    if entries:
        return entries, False
    warnings.append("no usable nav document or NCX; ToC derived from headings")
    headings = [h for doc in documents.values() for h in doc.headings][: limits.max_toc_entries]
    levels = sorted({level for level, _, _ in headings})
    rank = {level: number for number, level in enumerate(levels, start=1)}
    return [TocEntry(rank[level], title, offset) for level, title, offset in headings], True


def _declared_points(
    archive: EpubArchive, package: Package, limits: ExtractLimits, warnings: list[str]
) -> list[NavPoint]:
    sources = [(package.nav, nav_points), (package.ncx, ncx_points)]
    for item, reader in sources:
        if item is None:
            continue
        try:
            root = parse_untrusted_xml(
                archive.read(item.path), archive.book, item.path, warnings, html_fallback=True
            )
        except MissingEntryError:
            warnings.append(f"ToC document {item.path!r} is missing from the archive")
            continue
        except CorruptBookError as exc:
            warnings.append(f"ToC document unreadable: {exc.reason}")
            continue
        points = reader(root, item.path, limits.max_toc_entries, limits.max_toc_depth)
        if points:
            return points
    return []


def _locate(
    points: list[NavPoint],
    documents: dict[str, RenderedDocument],
    text_length: int,
    warnings: list[str],
) -> list[TocEntry]:
    """ToC entries with offsets; entries whose file is not in the spine are dropped."""
    offsets: list[int | None] = []
    for point in points:
        doc = documents.get(point.path)
        if not point.path:
            offsets.append(None)  # a heading without a link: placed at its first child below
        elif doc is None:
            warnings.append(
                f"ToC entry {point.title!r} points at {point.path!r}, "
                "which is not a readable spine document; dropped"
            )
            offsets.append(-1)
        elif point.fragment and point.fragment not in doc.anchors:
            warnings.append(
                f"ToC entry {point.title!r} points at missing fragment "
                f"#{point.fragment} of {point.path!r}; using the file's start"
            )
            offsets.append(doc.start)
        else:
            offsets.append(doc.anchors[point.fragment] if point.fragment else doc.start)
    # A link-less heading takes the offset of the next entry that resolved (-1: none did).
    following = -1
    for number in range(len(offsets) - 1, -1, -1):
        if offsets[number] is None:
            offsets[number] = following
        elif offsets[number] >= 0:
            following = offsets[number]
    entries = [
        TocEntry(point.level, point.title, min(offset, text_length))
        for point, offset in zip(points, offsets, strict=True)
        if offset is not None and offset >= 0
    ]
    if any(b.offset < a.offset for a, b in zip(entries, entries[1:], strict=False)):
        warnings.append("ToC entries are not in reading order")
    return entries


def _refuse_drm(archive: EpubArchive, package: Package, warnings: list[str]) -> None:
    """Raises EncryptedBookError when encryption.xml covers anything but fonts."""
    try:
        raw = archive.read(ENCRYPTION_PATH)
    except MissingEntryError:
        return
    root = parse_untrusted_xml(raw, archive.book, ENCRYPTION_PATH, warnings)
    for data in root.iter():
        if local_name(data) != "encrypteddata":
            continue
        method = next((e for e in data.iter() if local_name(e) == "encryptionmethod"), None)
        algorithm = method.get("Algorithm", "") if method is not None else ""
        if algorithm not in _FONT_OBFUSCATION:
            reference = next((e for e in data.iter() if local_name(e) == "cipherreference"), None)
            uri = reference.get("URI", "?") if reference is not None else "?"
            raise EncryptedBookError(archive.book, f"EPUB content is DRM-encrypted ({uri})")


def _back_index(documents: Iterable[RenderedDocument]) -> list[IndexTerm]:
    return parse_index_lines(line for doc in documents for line in doc.index_lines)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted ranges with overlapping or nested ones merged."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + len(PARAGRAPH_BREAK):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
