"""Reading an EPUB's own table of contents: the EPUB 3 nav document or the EPUB 2 NCX."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from lxml import etree

from hbi.extract.book_text import clean_title
from hbi.extract.epub_archive import resolve_href
from hbi.extract.safe_xml import local_name
from hbi.extract.xhtml import EPUB_TYPE


@dataclass(frozen=True)
class NavPoint:
    """One ToC entry as the file states it: its level, title and target (path, fragment).

    `path` is "" for a heading entry without a link of its own (an EPUB 3 `<span>`).
    """

    level: int
    title: str
    path: str
    fragment: str


def nav_points(
    nav_root: etree._Element, nav_path: str, max_entries: int, max_depth: int
) -> list[NavPoint]:
    """The entries of the `epub:type="toc"` nav element of an EPUB 3 navigation document."""
    for element in nav_root.iter():
        if local_name(element) != "nav":
            continue
        if "toc" in (element.get(EPUB_TYPE) or element.get("epub:type") or "").split():
            points: list[NavPoint] = []
            base = posixpath.dirname(nav_path)
            for child in element:
                if local_name(child) == "ol":
                    _walk_nav_list(child, 1, base, points, max_entries, max_depth)
                    break
            return points
    return []


def _walk_nav_list(
    ol: etree._Element,
    level: int,
    base: str,
    points: list[NavPoint],
    max_entries: int,
    max_depth: int,
) -> None:
    if level > max_depth:
        return
    for li in ol:
        if local_name(li) != "li" or len(points) >= max_entries:
            continue
        label = next((c for c in li if local_name(c) in ("a", "span")), None)
        if label is not None:
            path, fragment = resolve_href(base, label.get("href") or "")
            title = clean_title("".join(label.itertext()))
            if title:
                points.append(NavPoint(level, title, path, fragment))
        for child in li:
            if local_name(child) == "ol":
                _walk_nav_list(child, level + 1, base, points, max_entries, max_depth)


def ncx_points(
    ncx_root: etree._Element, ncx_path: str, max_entries: int, max_depth: int
) -> list[NavPoint]:
    """The navPoints of an EPUB 2 NCX navMap, in document order."""
    points: list[NavPoint] = []
    base = posixpath.dirname(ncx_path)
    nav_map = next((e for e in ncx_root.iter() if local_name(e) == "navmap"), None)
    if nav_map is not None:
        _walk_ncx(nav_map, 1, base, points, max_entries, max_depth)
    return points


def _walk_ncx(
    parent: etree._Element,
    level: int,
    base: str,
    points: list[NavPoint],
    max_entries: int,
    max_depth: int,
) -> None:
    if level > max_depth:
        return
    for point in parent:
        if local_name(point) != "navpoint" or len(points) >= max_entries:
            continue
        label = next((e for e in point if local_name(e) == "navlabel"), None)
        content = next((e for e in point if local_name(e) == "content"), None)
        title = clean_title("".join(label.itertext())) if label is not None else ""
        path, fragment = (
            resolve_href(base, content.get("src") or "") if content is not None else ("", "")
        )
        if title:
            points.append(NavPoint(level, title, path, fragment))
        _walk_ncx(point, level + 1, base, points, max_entries, max_depth)
