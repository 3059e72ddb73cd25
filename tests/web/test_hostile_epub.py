"""In Chromium: a hostile EPUB's scripts, event handlers and remote images never run or load
in the reader; what looks like markup in its text shows as text.

The book is indexed into a library of its own (HBI_INDEX_PATH), through the one write path,
so the session library keeps its eight books.
"""

from __future__ import annotations

import io
import re
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from hbi.api import create_app
from hbi.bundle.build import bundle_rows, prepare_book
from hbi.bundle.files import bundle_fingerprint
from hbi.bundle.rows import ChunkVectors
from hbi.index.db import connect
from hbi.index.writer import ProjectedBook, apply_books
from tests.web.conftest import served

pytestmark = pytest.mark.integration

BOOK_ID = "hostile.epub"
MARKUP_AS_TEXT = '<img src=x onerror="window.hbiPwned=3">'
QUIET_SENTENCE = "The lighthouse keeper counted seventeen gulls before the dawn came up grey."


class Beacon:
    """A loopback HTTP listener that records every request a page sends it."""

    def __init__(self) -> None:
        requests = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requests.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def hostile_epub(beacon_port: int) -> bytes:
    """Return an EPUB 3 whose chapter has a script, an onerror handler and a remote image."""
    remote = f"http://127.0.0.1:{beacon_port}"
    chapter = f"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>The Keeper</title>
<script>window.hbiPwned = 1; fetch("{remote}/script");</script>
<link rel="stylesheet" href="{remote}/style.css"/></head>
<body><section id="keeper"><h1>The Keeper</h1>
<p>{QUIET_SENTENCE}</p>
<p>He wrote in the log: {MARKUP_AS_TEXT.replace("<", "&lt;").replace(">", "&gt;")}</p>
<p><img src="x" onerror="window.hbiPwned = 2; fetch('{remote}/onerror')" alt="a broken image"/>
<img src="{remote}/beacon" alt="a remote image"/>
<a href="javascript:window.hbiPwned=4">a javascript link</a></p>
<script>document.write("written by a script"); window.hbiPwned = 5;</script>
<p>Then the fog rolled in over the rocks and the lamp burned on until the morning.</p>
</section></body></html>"""
    nav = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head><body>
<nav epub:type="toc"><ol><li><a href="chapter.xhtml#keeper">The Keeper</a></li></ol></nav>
</body></html>"""
    package = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:identifier id="id">urn:uuid:00000000-0000-4000-8000-000000000001</dc:identifier>
<dc:title>A Hostile Book</dc:title><dc:creator>Mallory</dc:creator><dc:language>en</dc:language>
<meta property="dcterms:modified">2024-01-01T00:00:00Z</meta></metadata>
<manifest>
<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
<item id="chapter" href="chapter.xhtml" media-type="application/xhtml+xml" properties="scripted"/>
</manifest>
<spine><itemref idref="chapter"/></spine></package>"""
    container = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as epub:
        epub.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        epub.writestr("META-INF/container.xml", container, compress_type=zipfile.ZIP_DEFLATED)
        for name, text in (
            ("content.opf", package),
            ("nav.xhtml", nav),
            ("chapter.xhtml", chapter),
        ):
            epub.writestr(f"OEBPS/{name}", text, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


class Words:
    """A tokenizer stand-in: one word piece per whitespace-separated word."""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [match.span() for match in re.finditer(r"\S+", text)]


def unit_vectors(texts: list[str]) -> list[ChunkVectors]:
    """Random unit vectors (the reader never reads them): one per chunk, two per sentence."""
    rows = np.random.default_rng(7).standard_normal((len(texts), 3, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=2, keepdims=True)
    return [ChunkVectors.from_stacked(row) for row in rows]


@pytest.fixture(scope="module")
def beacon() -> Beacon:
    return Beacon()


@pytest.fixture(scope="module")
def hostile_web(stack, beacon: Beacon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API over a library holding only the hostile EPUB (in the session's HBI_HOME)."""
    index_path = tmp_path_factory.mktemp("hostile") / "index.sqlite"
    prepared = prepare_book(
        hostile_epub(beacon.port),
        book_id=BOOK_ID,
        object_key=BOOK_ID,
        etag="hostile",
        tokenizer=Words(),
    )
    bundle, _ = bundle_rows(prepared.rows, unit_vectors, "test-model", {})
    apply_books(connect(index_path), [ProjectedBook(bundle, bundle_fingerprint(bundle))])
    env = pytest.MonkeyPatch()
    env.setenv("HBI_INDEX_PATH", str(index_path))
    try:
        with served(create_app(api_key="")) as url:
            yield url
    finally:
        env.undo()


def test_the_reader_shows_a_hostile_epub_inert(
    page: Page, hostile_web: str, beacon: Beacon
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{hostile_web}/?q=lighthouse+keeper+gulls")
    expect(page.locator(".hit a").first).to_have_text("A Hostile Book")
    page.locator(".hit a").first.click()
    page.wait_for_url("**/read?**")
    expect(page.locator("#content mark").first).to_be_visible()
    content = page.locator("#content")
    expect(content).to_contain_text(QUIET_SENTENCE)
    expect(content).to_contain_text(MARKUP_AS_TEXT)
    assert content.locator("script, img, iframe, object, embed, link, [onerror]").count() == 0
    page.wait_for_timeout(500)  # time for an image or a fetch to reach the beacon, if any would
    assert page.evaluate("window.hbiPwned") is None
    assert not page.errors.messages
    assert not dialogs
    assert beacon.requests == []
