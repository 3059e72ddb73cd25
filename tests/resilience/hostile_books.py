"""Hostile and damaged books, generated in code (no downloaded samples), with what each must give.

Every entry names the object key it is stored under, how to build its bytes, and the outcome
the pipeline must reach: a BookError kind (the book fails with a message naming it and the
problem) or "indexed" (a correct book, whose text must hold `present` and not `absent`). The
sizes are chosen so that the inputs that used to take quadratic time would run for minutes.
"""

from __future__ import annotations

import io
import random
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from tests.conftest import shared_dir
from tests.extract.extract_samples import (
    LAUGHS_DOCTYPE,
    XXE_DOCTYPE,
    Bookmark,
    Run,
    body_lines,
    build_pdf,
    build_zip,
    epub_entries,
    scanned_pdf,
)

MIB = 1024 * 1024
INDEXED = "indexed"


@dataclass(frozen=True)
class HostileBook:
    """A generated book, the key it is stored under and the outcome the pipeline must reach."""

    key: str
    build: Callable[[], bytes]
    outcome: str
    present: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()


def corpus_bytes(name: str) -> bytes:
    """A shared corpus book's bytes."""
    return (shared_dir() / "corpus" / name).read_bytes()


TWO_PAGES = [
    [Run(72, 700, "Chapter One", 20, True), *body_lines(670, ["The first page has words."])],
    [Run(72, 700, "Chapter Two", 20, True), *body_lines(670, ["The second page has more."])],
]


def _deep_outline(depth: int) -> list[Bookmark]:
    nested = Bookmark(f"Level {depth}", 1)
    for level in range(depth - 1, 0, -1):
        nested = Bookmark(f"Level {level}", 0, (nested,))
    return [nested]


def _flate_bomb_pdf(inflated_mib: int) -> bytes:
    """One page whose content stream inflates to `inflated_mib` MiB, almost all of it spaces."""
    deflate = zlib.compressobj(9)
    parts = [deflate.compress(b"BT /F1 11 Tf 72 700 Td (Hello from a bomb.) Tj ET\n")]
    parts += [deflate.compress(b" " * MIB) for _ in range(inflated_mib)]
    stream = b"".join(parts) + deflate.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _zip_bomb_epub(inflated_mib: int) -> bytes:
    """An EPUB whose first chapter inflates to `inflated_mib` MiB of zeros (written in pieces)."""
    entries = epub_entries()
    del entries["OEBPS/text/chapter1.xhtml"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            method = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=method)
        info = zipfile.ZipInfo("OEBPS/text/chapter1.xhtml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for _ in range(inflated_mib):
                member.write(bytes(MIB))
    return out.getvalue()


def _spread_bomb_epub(entries_count: int) -> bytes:
    """An EPUB whose spine lists many entries just under 1 MiB of dense markup each."""
    entries = epub_entries()
    items = "".join(
        f'<item id="f{n}" href="fill/{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(entries_count)
    )
    refs = "".join(f'<itemref idref="f{n}"/>' for n in range(entries_count))
    opf = entries["OEBPS/content.opf"].decode()
    opf = opf.replace("</manifest>", items + "</manifest>").replace("</spine>", refs + "</spine>")
    entries["OEBPS/content.opf"] = opf.encode()
    filler = b'<html xmlns="http://www.w3.org/1999/xhtml"><body>' + b"<p>a</p>" * 120_000
    entries.update(
        {f"OEBPS/fill/{n}.xhtml": filler + b"</body></html>" for n in range(entries_count)}
    )
    return build_zip(entries)


def _epub_with(**changes: str) -> Callable[[], bytes]:
    return lambda: build_zip(epub_entries(**changes))


def _epub_without(*names: str) -> bytes:
    entries = epub_entries()
    for name in names:
        del entries[name]
    return build_zip(entries)


def _traversal_epub() -> bytes:
    entries = epub_entries(chapter1_href="../../evil.xhtml")
    entries["../evil.xhtml"] = b"<html><body><p>evil</p></body></html>"
    return build_zip(entries)


def _unsafe_entries_epub() -> bytes:
    entries = epub_entries()
    entries["../evil.xhtml"] = b"<html><body><p>evil</p></body></html>"
    entries["/etc/evil.xhtml"] = b"<html><body><p>evil</p></body></html>"
    entries["OEBPS/link.xhtml"] = b"/etc/passwd"
    return build_zip(entries, symlinks=frozenset({"OEBPS/link.xhtml"}))


def _description_tags_epub() -> bytes:
    """An OPF description of 400,000 "<" each followed by a letter: a stray tag opener flood."""
    letters = random.Random(8).choices("abcdefghijklmnopqrstuvwxyz", k=400_000)
    flood = "".join(f"&lt;{letter}" for letter in letters)
    entries = epub_entries()
    opf = entries["OEBPS/content.opf"].decode()
    opf = opf.replace("</metadata>", f"<dc:description>{flood}</dc:description></metadata>")
    entries["OEBPS/content.opf"] = opf.encode()
    return build_zip(entries)


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


FRENCH = "Le garçon était très content de son café. À Noël, la forêt était calme.\n\n" * 3
QUOTED = "“Well,” said the café owner, “it’s naïve to think so — isn’t it?” Résumé…\n\n" * 3
INDEX_WITH_SPACES = (
    "CHAPTER I.\n\n" + "Words of the chapter.\n\n" * 10 + "Index\n\nterm" + " " * 300_000 + "x\n"
)

HOSTILE_BOOKS: tuple[HostileBook, ...] = (
    # PDF
    HostileBook(
        "truncated.pdf",
        lambda: _truncated(corpus_bytes("h-g-wells_the-time-machine.pdf")),
        "corrupt file",
    ),
    HostileBook("garbage.pdf", lambda: b"%PDF-1.7\n" + bytes(range(256)) * 64, "corrupt file"),
    HostileBook(
        "locked.pdf", lambda: build_pdf(TWO_PAGES, encrypt=("secret", "owner")), "encrypted"
    ),
    HostileBook(
        "restricted.pdf",
        lambda: build_pdf(TWO_PAGES, encrypt=("", "owner")),
        INDEXED,
        present=("The second page has more.",),
    ),
    HostileBook("scanned.pdf", lambda: scanned_pdf(pages=3), "no text layer"),
    HostileBook(
        "outline-cycle.pdf",
        lambda: build_pdf(
            TWO_PAGES,
            outline=[Bookmark("Chapter One", 0), Bookmark("Chapter Two", 1)],
            outline_cycle=True,
        ),
        INDEXED,
        present=("The first page has words.",),
    ),
    HostileBook(
        "outline-past-the-end.pdf",
        lambda: build_pdf(
            TWO_PAGES, outline=[Bookmark("Chapter One", 0), Bookmark("Far", "[9999 /Fit]")]
        ),
        INDEXED,
        present=("The second page has more.",),
    ),
    HostileBook(
        "outline-too-deep.pdf",
        lambda: build_pdf(TWO_PAGES, outline=_deep_outline(200)),
        INDEXED,
        present=("The first page has words.",),
    ),
    HostileBook(
        "page-count-lie.pdf",
        lambda: build_pdf(TWO_PAGES).replace(b"/Count 2 >>", b"/Count 2000000000 >>"),
        INDEXED,
        present=("The second page has more.",),
    ),
    HostileBook("flate-bomb.pdf", lambda: _flate_bomb_pdf(1024), "over a size limit"),
    HostileBook(
        "dot-leaders.pdf",
        lambda: build_pdf(
            [[Run(72, 700, "Contents " + "." * 30_000 + "x" * 20), Run(72, 686, "more words")]]
        ),
        INDEXED,
        present=("more words",),
    ),
    # EPUB
    HostileBook("zip-bomb.epub", lambda: _zip_bomb_epub(512), "over a size limit"),
    HostileBook("spread-bomb.epub", lambda: _spread_bomb_epub(200), "over a size limit"),
    HostileBook("truncated.epub", lambda: _truncated(build_zip(epub_entries())), "corrupt file"),
    HostileBook("traversal.epub", _traversal_epub, "corrupt file"),
    HostileBook("absolute.epub", _epub_with(chapter1_href="/etc/passwd"), "corrupt file"),
    HostileBook(
        "symlink.epub",
        lambda: build_zip(epub_entries(), symlinks=frozenset({"OEBPS/text/chapter1.xhtml"})),
        "corrupt file",
    ),
    HostileBook(
        "unsafe-entries.epub",
        _unsafe_entries_epub,
        INDEXED,
        present=("The first chapter has words.",),
        absent=("evil", "root:"),
    ),
    HostileBook(
        "xxe.epub",
        _epub_with(chapter_doctype=XXE_DOCTYPE, chapter_body="Before &xxe; after."),
        INDEXED,
        present=("Before after.",),
        absent=("root:",),
    ),
    HostileBook(
        "billion-laughs.epub",
        _epub_with(
            opf_doctype=LAUGHS_DOCTYPE, chapter_doctype=LAUGHS_DOCTYPE, title_suffix="&lol9;"
        ),
        INDEXED,
        present=("The second chapter.",),
        absent=("lollol",),
    ),
    HostileBook(
        "doctype-flood.epub",
        _epub_with(chapter_doctype="\n<!DOCTYPE a [" * 70_000 + '<!ENTITY x "y">'),
        INDEXED,
        present=("The second chapter.",),
    ),
    HostileBook("description-flood.epub", _description_tags_epub, INDEXED),
    HostileBook("no-opf.epub", lambda: _epub_without("OEBPS/content.opf"), "corrupt file"),
    HostileBook(
        "nav-to-missing-file.epub",
        _epub_with(nav_extra='<li><a href="text/gone.xhtml">Gone</a></li>'),
        INDEXED,
        present=("The second chapter.",),
    ),
    HostileBook(
        "spine-to-missing-items.epub",
        _epub_with(spine='<itemref idref="c1"/><itemref idref="ghost"/><itemref idref="c2"/>'),
        INDEXED,
        present=("The first chapter has words.",),
    ),
    HostileBook(
        "hollow.epub",
        lambda: _epub_without("OEBPS/text/chapter1.xhtml", "OEBPS/text/chapter2.xhtml"),
        "corrupt file",
    ),
    HostileBook(
        "deep-nesting.epub",
        _epub_with(chapter_body="<span>" * 5_000 + "deep" + "</span>" * 5_000),
        INDEXED,
        present=("The second chapter.",),
    ),
    # Names that lie about the format
    HostileBook(
        "really-a-pdf.epub",
        lambda: build_pdf(TWO_PAGES),
        INDEXED,
        present=("The first page has words.",),
    ),
    HostileBook(
        "really-an-epub.pdf",
        lambda: build_zip(epub_entries()),
        INDEXED,
        present=("The first chapter has words.",),
    ),
    HostileBook(
        "really-a-png.epub", lambda: b"\x89PNG\r\n\x1a\n" + bytes(64), "unsupported format"
    ),
    # Tiny files
    HostileBook("empty.txt", lambda: b"", "empty"),
    HostileBook("empty.pdf", lambda: b"", "empty"),
    HostileBook("one-letter.txt", lambda: b"a", INDEXED, present=("a",)),
    HostileBook("one-symbol.pdf", lambda: b"%", "empty"),
    HostileBook("one-nul.epub", lambda: b"\x00", "unsupported format"),
    # Encodings
    HostileBook(
        "latin-1.txt", lambda: FRENCH.encode("latin-1"), INDEXED, present=("garçon était",)
    ),
    HostileBook("cp1252.txt", lambda: QUOTED.encode("cp1252"), INDEXED, present=("“Well,”",)),
    HostileBook(
        "utf-16-bom.txt",
        lambda: ("# Title\n\n" + QUOTED).encode("utf-16"),
        INDEXED,
        present=("café owner",),
    ),
    # Long lines and markup that used to take quadratic time
    HostileBook("line-50mb.txt", lambda: b"x" * 50_000_000, "over a size limit"),
    HostileBook("line-1mb.txt", lambda: b"word " * 200_000, INDEXED, present=("word word",)),
    HostileBook(
        "heading-spaces.txt", lambda: b"# a" + b" " * 300_000 + b"b", INDEXED, present=("a b",)
    ),
    HostileBook("backticks.md", lambda: b"# T\n\n" + b"`" * 100_000, INDEXED),
    HostileBook("brackets.md", lambda: b"# T\n\n" + b"[" * 300_000, INDEXED),
    HostileBook("underscores.md", lambda: b"# T\n\n" + b"_a " * 100_000, INDEXED),
    HostileBook(
        "index-spaces.txt", lambda: INDEX_WITH_SPACES.encode(), INDEXED, present=("term x",)
    ),
)
