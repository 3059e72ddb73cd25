"""Reading an EPUB's package document (OPF): metadata, manifest and spine."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from lxml import etree

from hbi.books.book import BookMetadata
from hbi.errors import CorruptBookError
from hbi.extract.book_text import clean_title
from hbi.extract.epub_archive import EpubArchive, MissingEntryError, resolve_href
from hbi.extract.safe_xml import local_name, parse_untrusted_xml

CONTAINER_PATH = "META-INF/container.xml"
XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/xml", "text/xml"})
NCX_TYPE = "application/x-dtbncx+xml"
# No "<" inside a tag: each "<" then starts one short scan, so a stray-"<" flood stays linear.
_TAG = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class ManifestItem:
    """A publication resource: its archive path, media type and EPUB 3 properties."""

    path: str
    media_type: str
    properties: frozenset[str]


@dataclass
class Package:
    """What the OPF says: metadata, resources by id, reading order and the ToC documents."""

    path: str
    version: str
    metadata: BookMetadata
    manifest: dict[str, ManifestItem] = field(default_factory=dict)
    spine: list[str] = field(default_factory=list)
    ncx_id: str | None = None

    @property
    def nav(self) -> ManifestItem | None:
        """The EPUB 3 navigation document, if the manifest declares one."""
        return next((i for i in self.manifest.values() if "nav" in i.properties), None)

    @property
    def ncx(self) -> ManifestItem | None:
        """The EPUB 2 NCX, named by the spine's `toc` attribute or found by media type."""
        if self.ncx_id and self.ncx_id in self.manifest:
            return self.manifest[self.ncx_id]
        return next((i for i in self.manifest.values() if i.media_type == NCX_TYPE), None)


def find_package_path(archive: EpubArchive, warnings: list[str]) -> str:
    """The archive path of the OPF, from container.xml or, failing that, the only .opf file."""
    book = archive.book
    try:
        container = parse_untrusted_xml(
            archive.read(CONTAINER_PATH), book, CONTAINER_PATH, warnings
        )
    except MissingEntryError:
        candidates = [name for name in archive.names() if name.casefold().endswith(".opf")]
        if len(candidates) != 1:
            raise CorruptBookError(
                book, f"EPUB has no {CONTAINER_PATH} and {len(candidates)} .opf files"
            ) from None
        warnings.append(f"no {CONTAINER_PATH}; using {candidates[0]}")
        return candidates[0]
    for element in container.iter():
        if local_name(element) == "rootfile" and element.get("full-path"):
            media_type = element.get("media-type") or "application/oebps-package+xml"
            if media_type == "application/oebps-package+xml":
                return resolve_href("", element.get("full-path", ""))[0]
    raise CorruptBookError(book, f"{CONTAINER_PATH} names no OPF package document")


def read_package(archive: EpubArchive, path: str, warnings: list[str]) -> Package:
    """The parsed OPF at `path`; raises CorruptBookError when it is missing or unsafe."""
    try:
        raw = archive.read(path)
    except MissingEntryError:
        raise CorruptBookError(
            archive.book, f"the OPF package document {path!r} is missing"
        ) from None
    root = parse_untrusted_xml(raw, archive.book, path, warnings)
    if local_name(root) != "package":
        raise CorruptBookError(archive.book, f"{path} is not an OPF package document")
    base = posixpath.dirname(path)
    package = Package(path=path, version=root.get("version") or "", metadata=_metadata(root))
    for element in root.iter():
        name = local_name(element)
        if name == "item" and element.get("id") and element.get("href"):
            item_path, _ = resolve_href(base, element.get("href", ""))
            package.manifest[element.get("id", "")] = ManifestItem(
                path=item_path,
                media_type=(element.get("media-type") or "").strip().casefold(),
                properties=frozenset((element.get("properties") or "").split()),
            )
        elif name == "spine":
            package.ncx_id = element.get("toc")
        elif name == "itemref" and element.get("idref"):
            package.spine.append(element.get("idref", ""))
    return package


def _metadata(root: etree._Element) -> BookMetadata:
    values: dict[str, list[str]] = {}
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith("{http://purl.org/dc/elements/1.1/}"):
            text = clean_title("".join(element.itertext()))
            if text:
                values.setdefault(local_name(element), []).append(text)

    def first(key: str) -> str | None:
        return values.get(key, [None])[0]

    description = first("description")
    return BookMetadata(
        title=first("title"),
        authors=tuple(dict.fromkeys(values.get("creator", []))),
        language=first("language"),
        publisher=first("publisher"),
        date=first("date"),
        identifiers=tuple(dict.fromkeys(values.get("identifier", []))),
        # Descriptions often carry escaped HTML, which the XML parser has turned into tags.
        description=clean_title(_TAG.sub(" ", description)) if description else None,
    )
