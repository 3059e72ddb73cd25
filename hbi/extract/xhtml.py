"""Rendering an EPUB content document (XHTML) into paragraphs of the book's text.

Block elements (p, div, li, headings, table rows, …) end a paragraph; inline elements join
their text. Every `id` is recorded at the offset of the first text that follows it, which is
where a ToC link to that id lands. Sections whose `epub:type` marks them as front or back
matter (title page, imprint, colophon, copyright page, …) are reported as character ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from hbi.extract.backindex import IndexLine
from hbi.extract.book_text import BookTextBuilder, clean_paragraph
from hbi.extract.safe_xml import local_name

EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"

MATTER_TYPES = frozenset(
    {
        "cover",
        "titlepage",
        "halftitlepage",
        "imprint",
        "colophon",
        "copyright-page",
        "toc",
        "landmarks",
        "loi",
        "lot",
        "seriespage",
        "other-credits",
        "errata",
    }
)
_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "body", "caption", "center", "dd"),
        *("details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure"),
        *("footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr"),
        *("li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table"),
        *("tbody", "tfoot", "thead", "tr", "ul"),
    }
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# Never text: metadata, scripts, images, and note references (superscript numbers that
# would otherwise glue themselves to the word before them).
_SKIPPED = frozenset(
    {"head", "script", "style", "template", "svg", "img", "noscript", "annotation-xml", "object"}
)
_SKIPPED_TYPES = frozenset({"noteref", "pagebreak"})
_CELL_TAGS = frozenset({"td", "th", "br"})
_LISTS = frozenset({"ul", "ol", "dl"})


@dataclass
class RenderedDocument:
    """Where one content document landed in the book's text, and what it contained."""

    start: int
    end: int
    anchors: dict[str, int] = field(default_factory=dict)
    matter: list[tuple[int, int]] = field(default_factory=list)
    headings: list[tuple[int, str, int]] = field(default_factory=list)  # (level, title, offset)
    index_lines: list[IndexLine] = field(default_factory=list)


class _Renderer:
    """Walks one document's tree, writing paragraphs to the builder and noting anchors."""

    def __init__(self, builder: BookTextBuilder):
        self.builder = builder
        self.buffer: list[str] = []
        self.list_depth = 0
        self.in_index = 0
        self.doc = RenderedDocument(builder.next_offset, builder.next_offset)

    def flush(self) -> int | None:
        offset = self.builder.add_paragraph("".join(self.buffer))
        if offset is not None and self.in_index:
            line = clean_paragraph("".join(self.buffer))
            self.doc.index_lines.append(IndexLine(self.list_depth, line))
        self.buffer.clear()
        return offset

    def walk(self, element: etree._Element) -> None:
        tag = local_name(element)
        types = set((element.get(EPUB_TYPE) or element.get("epub:type") or "").split())
        if (
            not tag
            or tag in _SKIPPED
            or types & _SKIPPED_TYPES
            or element.get("hidden") is not None
        ):
            return
        block = tag in _BLOCKS
        if block:
            self.flush()
        elif tag in _CELL_TAGS:
            self.buffer.append(" ")
        if element_id := element.get("id"):
            self.doc.anchors.setdefault(element_id, self.builder.next_offset)
        matter_start = self.builder.next_offset if types & MATTER_TYPES else None
        is_index = "index" in types
        self.in_index += is_index
        self.list_depth += tag in _LISTS
        if element.text:
            self.buffer.append(element.text)
        for child in element:
            self.walk(child)
            if child.tail:
                self.buffer.append(child.tail)
        self.list_depth -= tag in _LISTS
        if block:
            offset = self.flush()
            if tag in _HEADINGS and offset is not None:
                title = self.builder.last_text
                self.doc.headings.append((_HEADINGS[tag], title, offset))
        elif tag in _CELL_TAGS:
            self.buffer.append(" ")
        self.in_index -= is_index
        if matter_start is not None:
            self.flush()
            if self.builder.length > matter_start:
                self.doc.matter.append((matter_start, self.builder.length))


def render_document(root: etree._Element, builder: BookTextBuilder) -> RenderedDocument:
    """The document's placement in the text after its paragraphs were added to `builder`."""
    renderer = _Renderer(builder)
    renderer.walk(root)
    renderer.flush()
    doc = renderer.doc
    doc.end = builder.length
    # Anchors after the last text (an empty closing section) point at the document's end.
    doc.anchors = {key: min(offset, doc.end) for key, offset in doc.anchors.items()}
    doc.start = min(doc.start, doc.end)
    return doc
