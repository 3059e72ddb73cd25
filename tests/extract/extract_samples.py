"""Hand-built PDFs and EPUBs for extraction tests: no downloaded samples, every byte explained.

The PDF writer emits just enough of the format for pdfium: a catalog, a page tree, Helvetica
(regular and bold, never embedded), one content stream per page, an optional outline, page
labels, and optional RC4 encryption per the PDF standard security handler (revision 2).
Scanned pages (images without text) are drawn with pdfium itself.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# Algorithm 3.2's padding string (PDF 1.7, 7.6.3.3).
_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_FILE_ID = bytes.fromhex("00112233445566778899aabbccddeeff")


@dataclass(frozen=True)
class Run:
    """A line of text drawn at (x, y) in points from the bottom-left corner."""

    x: float
    y: float
    text: str
    size: float = 11
    bold: bool = False


@dataclass(frozen=True)
class Bookmark:
    """An outline entry; `page` is a 0-based page index, or a raw destination string."""

    title: str
    page: int | str
    children: tuple[Bookmark, ...] = ()


def body_lines(first_y: float, texts: list[str], x: float = 72, size: float = 11) -> list[Run]:
    """Runs for consecutive lines of body text, 14 points apart."""
    return [Run(x, first_y - 14 * i, text, size) for i, text in enumerate(texts)]


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


class _StandardSecurity:
    """RC4 40-bit encryption (/V 1 /R 2) with the given user and owner passwords."""

    permissions = -44

    def __init__(self, user_password: str, owner_password: str):
        user = (user_password.encode("latin-1") + _PASSWORD_PAD)[:32]
        owner = (owner_password.encode("latin-1") + _PASSWORD_PAD)[:32]
        self.owner_entry = _rc4(hashlib.md5(owner).digest()[:5], user)
        digest = hashlib.md5(
            user + self.owner_entry + struct.pack("<i", self.permissions) + _FILE_ID
        ).digest()
        self.key = digest[:5]
        self.user_entry = _rc4(self.key, _PASSWORD_PAD)

    def encrypt(self, number: int, data: bytes) -> bytes:
        object_key = hashlib.md5(self.key + struct.pack("<i", number)[:3] + b"\x00\x00").digest()
        return _rc4(object_key[:10], data)

    def dictionary(self) -> bytes:
        return b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
            self.owner_entry.hex().encode(),
            self.user_entry.hex().encode(),
            self.permissions,
        )


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def build_pdf(
    pages: list[list[Run]],
    *,
    outline: list[Bookmark] | None = None,
    outline_cycle: bool = False,
    page_labels: bytes | None = None,
    title: str | None = None,
    encrypt: tuple[str, str] | None = None,
) -> bytes:
    """A PDF with the given text runs per page (612x792 points).

    `outline_cycle` makes the last top-level bookmark's /Next point back at the first one and
    the first one its own child. `encrypt` is (user password, owner password).
    """
    objects: dict[int, bytes] = {}
    security = _StandardSecurity(*encrypt) if encrypt else None
    page_numbers = [5 + 2 * i for i in range(len(pages))]
    next_number = 5 + 2 * len(pages)
    objects[3] = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    objects[4] = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    for number, runs in zip(page_numbers, pages, strict=True):
        content = b"".join(
            b"BT /%s %g Tf %g %g Td %s Tj ET\n"
            % (b"F2" if run.bold else b"F1", run.size, run.x, run.y, _pdf_string(run.text))
            for run in runs
        )
        if security:
            content = security.encrypt(number + 1, content)
        objects[number] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % (number + 1)
        )
        objects[number + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
    kids = b" ".join(b"%d 0 R" % n for n in page_numbers)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages))
    catalog = b"<< /Type /Catalog /Pages 2 0 R"
    if outline:
        root, next_number = _outline_objects(
            outline, page_numbers, next_number, objects, outline_cycle
        )
        catalog += b" /Outlines %d 0 R" % root
    if page_labels:
        catalog += b" /PageLabels << /Nums [%s] >>" % page_labels
    objects[1] = catalog + b" >>"
    trailer = b"/Root 1 0 R /ID [<%s> <%s>]" % (_FILE_ID.hex().encode(), _FILE_ID.hex().encode())
    if title and not security:
        objects[next_number] = b"<< /Title %s /Author (Ada Example; Ben Sample) >>" % _pdf_string(
            title
        )
        trailer += b" /Info %d 0 R" % next_number
        next_number += 1
    if security:
        objects[next_number] = security.dictionary()
        trailer += b" /Encrypt %d 0 R" % next_number
        next_number += 1
    return _serialise(objects, next_number, trailer)


def _outline_objects(
    outline: list[Bookmark],
    page_numbers: list[int],
    first_free: int,
    objects: dict[int, bytes],
    cycle: bool,
) -> tuple[int, int]:
    root = first_free
    counter = [first_free + 1]

    def destination(page: int | str) -> bytes:
        if isinstance(page, str):
            return page.encode()
        return b"[%d 0 R /Fit]" % page_numbers[page]

    def place(items: list[Bookmark] | tuple[Bookmark, ...], parent: int, top: bool) -> list[int]:
        numbers = list(range(counter[0], counter[0] + len(items)))
        counter[0] += len(items)
        for position, (number, item) in enumerate(zip(numbers, items, strict=True)):
            entry = b"<< /Title %s /Parent %d 0 R /Dest %s" % (
                _pdf_string(item.title),
                parent,
                destination(item.page),
            )
            if position > 0:
                entry += b" /Prev %d 0 R" % numbers[position - 1]
            if position + 1 < len(numbers):
                entry += b" /Next %d 0 R" % numbers[position + 1]
            elif cycle and top:
                entry += b" /Next %d 0 R" % numbers[0]
            children = place(item.children, number, False) if item.children else []
            if cycle and top and position == 0:
                children = [number]
            if children:
                entry += b" /First %d 0 R /Last %d 0 R /Count %d" % (
                    children[0],
                    children[-1],
                    len(children),
                )
            objects[number] = entry + b" >>"
        return numbers

    tops = place(outline, root, True)
    objects[root] = b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (
        tops[0],
        tops[-1],
        len(tops),
    )
    return root, counter[0]


def scanned_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages each hold one grey image and no text, like an unOCRed scan."""
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        page = pdf.new_page(612, 792)
        bitmap = pdfium.PdfBitmap.new_native(200, 100, pdfium_c.FPDFBitmap_Gray)
        bitmap.fill_rect((128, 128, 128, 255), 0, 0, 200, 100)
        image = pdfium.PdfImage.new(pdf)
        image.set_bitmap(bitmap)
        image.set_matrix(pdfium.PdfMatrix().scale(400, 200).translate(72, 400))
        page.insert_obj(image)
        page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _serialise(objects: dict[int, bytes], size: int, trailer: bytes) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[number]))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        if number in offsets:
            out.write(b"%010d 00000 n \n" % offsets[number])
        else:
            out.write(b"0000000000 65535 f \n")
    out.write(b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, xref))
    return out.getvalue()


# --- EPUB ----------------------------------------------------------------------------------

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>"""

OPF = """<?xml version="1.0" encoding="UTF-8"?>{doctype}
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:isbn:9780000000001</dc:identifier>
    <dc:title>A Small Book{title_suffix}</dc:title>
    <dc:creator>Ada Example</dc:creator>
    <dc:creator>Ben Sample</dc:creator>
    <dc:language>en</dc:language>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="c1" href="{chapter1}" media-type="application/xhtml+xml"/>
    <item id="c2" href="text/chapter2.xhtml" media-type="application/xhtml+xml"/>
  </manifest>
  <spine>{spine}</spine>
</package>"""

NAV = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head>
<body><nav epub:type="toc"><h1>Contents</h1><ol>
  <li><a href="text/chapter1.xhtml">Chapter One</a>
    <ol><li><a href="text/chapter1.xhtml#part-b">Part B</a></li></ol></li>
  <li><a href="text/chapter2.xhtml">Chapter Two</a></li>{extra}
</ol></nav></body></html>"""

CHAPTER = """<?xml version="1.0" encoding="UTF-8"?>{doctype}
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{title}</title></head>
<body><section epub:type="chapter"><h2>{title}</h2>
<p>{body}</p>
<p id="part-b">Part B begins here.</p>
</section></body></html>"""


XXE_DOCTYPE = '\n<!DOCTYPE html [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>'
# "Billion laughs": lol9 would expand to 10^9 copies of "lol".
LAUGHS_DOCTYPE = (
    "\n<!DOCTYPE html [\n"
    + "\n".join(
        ['<!ENTITY lol "lol">']
        + [
            f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
            for n in range(1, 10)
        ]
    )
    + "\n]>"
)


def epub_entries(
    *,
    opf_doctype: str = "",
    chapter_doctype: str = "",
    chapter_body: str = "The first chapter has words.",
    chapter1_href: str = "text/chapter1.xhtml",
    spine: str = '<itemref idref="c1"/><itemref idref="c2"/>',
    nav_extra: str = "",
    title_suffix: str = "",
) -> dict[str, bytes]:
    """The entries of a small valid EPUB 3, with hooks to make it hostile."""
    return {
        "mimetype": b"application/epub+zip",
        "META-INF/container.xml": CONTAINER.encode(),
        "OEBPS/content.opf": OPF.format(
            doctype=opf_doctype, spine=spine, chapter1=chapter1_href, title_suffix=title_suffix
        ).encode(),
        "OEBPS/nav.xhtml": NAV.format(extra=nav_extra).encode(),
        "OEBPS/text/chapter1.xhtml": CHAPTER.format(
            doctype=chapter_doctype, title="Chapter One", body=chapter_body
        ).encode(),
        "OEBPS/text/chapter2.xhtml": CHAPTER.format(
            doctype="", title="Chapter Two", body="The second chapter."
        ).encode(),
    }


def build_zip(entries: dict[str, bytes], *, symlinks: frozenset[str] = frozenset()) -> bytes:
    """A ZIP with `mimetype` stored first and everything else deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.create_system = 3
                info.external_attr = (0o120777) << 16
            archive.writestr(info, data)
    return out.getvalue()
