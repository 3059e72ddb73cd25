"""One page of a PDF book, read in a capped child process: its text lines with boxes, or a PNG.

A PDF is hostile input and pdfium inflates content streams whole (hbi/extract/pdf_child.py), so
the API never opens one itself: each request runs a fresh Python process (`answer_request`
below) whose address space is capped and which is killed after `PAGE_SECONDS`. At most
`MAX_CHILDREN` run at once, so a burst of page views cannot exhaust the server's memory.

Lines are pdfium's text lines, split again where the baseline jumps (pdfium joins a word broken
at a hyphen across two visual lines). Boxes are fractions of the page as displayed (rotation
applied), origin top-left, so a client lays them over the page image at any size.
"""

from __future__ import annotations

import contextlib
import ctypes
import pickle
import resource
import signal
import subprocess
import sys
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from hbi.reader.errors import UnreadablePageError

MIB = 1024 * 1024
PAGE_MEMORY_BYTES = 1024 * MIB
PAGE_SECONDS = 30.0
MAX_CHILDREN = 4
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 200, 2000, 1000

_children = threading.BoundedSemaphore(MAX_CHILDREN)
# Characters pdfium puts where a word was hyphenated at a line end.
_HYPHENS = {0xFFFE: "-", 0x02: "-", 0xAD: "-"}


@dataclass(frozen=True)
class PageLine:
    """One visual line of a page: its text and box, as fractions of the displayed page."""

    text: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class PageText:
    """A page's size in points (as displayed), its printed label and its text lines."""

    width: float
    height: float
    label: str | None
    lines: list[PageLine]


def clamp_width(width: int | None) -> int:
    """The image width to render: `width` within MIN_WIDTH..MAX_WIDTH, DEFAULT_WIDTH if None."""
    return DEFAULT_WIDTH if width is None else min(max(width, MIN_WIDTH), MAX_WIDTH)


def page_text(path: Path, book_id: str, page: int) -> PageText:
    """The text layer of the 1-based page of the PDF at path, read in a capped child."""
    return _in_child(path, book_id, ("text", page - 1))


def page_png(path: Path, book_id: str, page: int, width: int) -> bytes:
    """The 1-based page of the PDF at path as a PNG `width` pixels wide, rendered in a child."""
    return _in_child(path, book_id, ("png", page - 1, clamp_width(width)))


def _in_child(path: Path, book_id: str, request: tuple):
    memory_cap = PAGE_MEMORY_BYTES + path.stat().st_size
    with _children:
        try:
            completed = subprocess.run(
                [sys.executable, "-c", f"import {__name__} as child; child.answer_request()"],
                input=pickle.dumps((str(path), request, memory_cap)),
                capture_output=True,
                timeout=PAGE_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise UnreadablePageError(
                book_id, f"reading the page took more than {PAGE_SECONDS:.0f} s"
            ) from exc
    if completed.returncode < 0:
        died = signal.Signals(-completed.returncode).name
        raise UnreadablePageError(book_id, f"the PDF reader stopped ({died}) on this page")
    if completed.returncode != 0:
        # An exception in the child is a bug in HBI, not a property of the book: say so.
        raise RuntimeError(
            f"{book_id}: the PDF page reader failed with exit status {completed.returncode}:\n"
            + completed.stderr.decode("utf-8", "replace")[-4000:]
        )
    outcome = pickle.loads(completed.stdout)
    if isinstance(outcome, str):
        raise UnreadablePageError(book_id, outcome)
    return outcome


def answer_request() -> None:
    """Read one request from stdin, cap this process's memory, answer it on stdout.

    The answer is a PageText or PNG bytes, or a str saying why the page cannot be read.
    """
    path, request, memory_cap = pickle.load(sys.stdin.buffer)
    # On a platform without address-space limits the time limit still applies.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
        page = pdf[request[1]]
        if request[0] == "text":
            outcome = _read_text(pdf, page, request[1])
        else:
            outcome = _png(page, request[2])
    except (pdfium.PdfiumError, IndexError) as exc:
        outcome = f"pdfium cannot read this page ({exc})"
    except MemoryError:
        outcome = f"reading this page needs more than {memory_cap // MIB:,} MiB of memory"
    sys.stdout.buffer.write(pickle.dumps(outcome))


def _read_text(pdf, page, index: int) -> PageText:
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    to_page = _Displayed(page.get_cropbox(), page.get_rotation())
    textpage = page.get_textpage()
    lines: list[PageLine] = []
    chars: list[str] = []
    box: list[float] | None = None
    last_origin: tuple[float, float] | None = None

    def flush() -> None:
        nonlocal chars, box, last_origin
        text = "".join(chars).strip()
        if text and box is not None:
            lines.append(PageLine(text, *to_page.fractions(box)))
        chars, box, last_origin = [], None, None

    char_box = pdfium_c.FS_RECTF()
    x, y = ctypes.c_double(), ctypes.c_double()
    for i in range(pdfium_c.FPDFText_CountChars(textpage)):
        code = pdfium_c.FPDFText_GetUnicode(textpage, i)
        if code in (0x0D, 0x0A):
            flush()
            continue
        if pdfium_c.FPDFText_IsGenerated(textpage, i) != 1 and pdfium_c.FPDFText_GetLooseCharBox(
            textpage, i, char_box
        ):
            pdfium_c.FPDFText_GetCharOrigin(textpage, i, x, y)
            size = char_box.top - char_box.bottom
            if last_origin is not None and (
                abs(y.value - last_origin[1]) > 0.6 * size and x.value < last_origin[0]
            ):
                flush()
            last_origin = (x.value, y.value)
            edges = (char_box.left, char_box.bottom, char_box.right, char_box.top)
            box = (
                list(edges)
                if box is None
                else [min(box[0], edges[0]), min(box[1], edges[1]), max(box[2], edges[2]),
                      max(box[3], edges[3])]
            )  # fmt: skip
        if code in _HYPHENS:
            chars.append(_HYPHENS[code])
        elif code >= 0x20 and not 0xD800 <= code <= 0xDFFF:
            chars.append(chr(code))
    flush()
    return PageText(width, height, pdf.get_page_label(index) or None, lines)


class _Displayed:
    """Maps a box in PDF user space to fractions of the page as displayed, origin top-left."""

    def __init__(self, cropbox: tuple[float, float, float, float], rotation: int) -> None:
        self.left, self.bottom, self.right, self.top = cropbox
        self.rotation = rotation % 360

    def fractions(self, box: list[float]) -> tuple[float, float, float, float]:
        """(x, y, w, h) of the box as fractions of the displayed page, clipped to it."""
        width = (self.right - self.left) or 1.0
        height = (self.top - self.bottom) or 1.0
        corners = [
            self._turn((bx - self.left) / width, (self.top - by) / height)
            for bx in (box[0], box[2])
            for by in (box[1], box[3])
        ]
        xs = [min(max(cx, 0.0), 1.0) for cx, _ in corners]
        ys = [min(max(cy, 0.0), 1.0) for _, cy in corners]
        return (
            round(min(xs), 5),
            round(min(ys), 5),
            round(max(xs) - min(xs), 5),
            round(max(ys) - min(ys), 5),
        )

    def _turn(self, fx: float, fy: float) -> tuple[float, float]:
        # A page's /Rotate turns it clockwise for display.
        if self.rotation == 90:
            return 1 - fy, fx
        if self.rotation == 180:
            return 1 - fx, 1 - fy
        if self.rotation == 270:
            return fy, 1 - fx
        return fx, fy


def _png(page, width: int) -> bytes:
    bitmap = page.render(scale=width / page.get_width(), rev_byteorder=True, prefer_bgrx=False)
    # pypdfium2 rounds the size up, so a float error can add a column: the width is exact.
    pixels = bitmap.to_numpy()[:, :width]
    return encode_png(pixels.tobytes(), pixels.shape[1], pixels.shape[0], pixels.shape[2])


def encode_png(rgb: bytes, width: int, height: int, channels: int = 3) -> bytes:
    """PNG file bytes of `height` rows of `width` 8-bit pixels (RGB, or RGBA with 4 channels)."""
    row = width * channels
    # Filter type 0 (None) before every row, as the format requires.
    raw = b"".join(b"\x00" + rgb[y * row : (y + 1) * row] for y in range(height))
    color_type = 6 if channels == 4 else 2

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, color_type, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
