"""Reading PDF pages that have no text layer with Tesseract, as lines `group_paragraphs` takes.

Each page is rendered grey by pdfium and handed to the `tesseract` program as a PGM on its
stdin (Leptonica reads PNM, so no imaging library is needed); its TSV output gives every word
with a box and a confidence. Words are gathered into Tesseract's lines and placed in PDF points
with y up, like pdfium's lines, so paragraphs, running headers, page labels and the derived ToC
are found the same way as on text pages. Type size is not in the TSV: a line's box height
stands in for it, and every line within 30% of the page's median height gets the median, so
descenders do not split paragraphs while a heading set larger keeps its own size.

Rendering stays on the calling thread (pdfium is not thread-safe); the Tesseract processes run
in a small thread pool, one single-threaded process per page (`OMP_THREAD_LIMIT=1`: Tesseract's
own threads slow it down when several pages run at once).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pypdfium2 as pdfium

from hbi.extract.pdf_layout import PdfLine

OCR_LANGS_ENV = "HBI_OCR_LANGS"
DEFAULT_OCR_LANGS = "eng"
_POINTS_PER_INCH = 72.0
_SAME_SIZE = 1.3
# A line that is one short word of I, l, 1 and | (with V, X) is a roman numeral as Tesseract
# misreads a chapter heading ("II" comes back "Il"); lowercase l or a digit alone is never that.
_MISREAD_ROMAN = re.compile(r"^(?=.*[IVX])[IVXl1|]{2,6}$")


@dataclass(frozen=True)
class OcrPage:
    """What Tesseract read on one page: its lines (empty if nothing) and mean word confidence."""

    number: int
    lines: list[PdfLine]
    confidence: float | None
    error: str | None = None


def ocr_langs() -> str:
    """Tesseract's `-l` argument: `HBI_OCR_LANGS`, languages joined by '+', default `eng`."""
    return os.environ.get(OCR_LANGS_ENV, "").strip() or DEFAULT_OCR_LANGS


def tesseract_path() -> str | None:
    """Where the `tesseract` program is, or None when it is not installed."""
    return shutil.which("tesseract")


def ocr_workers(limit: int) -> int:
    """Tesseract processes to run at once: the cores this process may use, at most `limit`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, min(cores, limit))


def ocr_pages(
    render: Callable[[int], tuple[bytes, float]],
    numbers: Iterable[int],
    *,
    tesseract: str,
    langs: str,
    dpi: int,
    seconds_per_page: float,
    workers: int,
) -> list[OcrPage]:
    """OCR the pages `numbers` (1-based); `render(n)` gives page n as a PGM and its height in pt.

    Renders run here, one at a time; at most twice `workers` rendered pages wait in memory.
    """
    results: list[OcrPage] = []
    pending: deque[Future[OcrPage]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tesseract") as pool:
        for number in numbers:
            if len(pending) >= 2 * workers:
                results.append(pending.popleft().result())
            image, height = render(number)
            pending.append(
                pool.submit(
                    _read_page, number, image, height, tesseract, langs, dpi, seconds_per_page
                )
            )
        results.extend(future.result() for future in pending)
    return results


def render_pgm(page: pdfium.PdfPage, dpi: int) -> bytes:
    """The page rendered grey at `dpi` as a binary PGM (P5) image."""
    bitmap = page.render(scale=dpi / _POINTS_PER_INCH, grayscale=True)
    try:
        pixels = bitmap.to_numpy()
        header = b"P5\n%d %d\n255\n" % (pixels.shape[1], pixels.shape[0])
        return header + pixels.tobytes()
    finally:
        bitmap.close()


def _read_page(
    number: int,
    image: bytes,
    height: float,
    tesseract: str,
    langs: str,
    dpi: int,
    seconds: float,
) -> OcrPage:
    try:
        completed = subprocess.run(
            [tesseract, "-", "-", "-l", langs, "--dpi", str(dpi), "tsv"],
            input=image,
            capture_output=True,
            timeout=seconds,
            check=False,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except subprocess.TimeoutExpired:
        return OcrPage(number, [], None, f"OCR took more than {seconds:,.0f} s")
    if completed.returncode != 0:
        lines = completed.stderr.decode("utf-8", "replace").strip().splitlines() or [""]
        # A missing language pack names itself on one line and ends with a generic one.
        cause = next((line for line in lines if line.startswith("Failed loading")), lines[-1])
        return OcrPage(number, [], None, f"tesseract -l {langs} failed: {cause}")
    return _page_from_tsv(number, completed.stdout.decode("utf-8", "replace"), height, dpi)


@dataclass
class _Word:
    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float


def _page_from_tsv(number: int, tsv: str, page_height: float, dpi: int) -> OcrPage:
    """The page's lines from Tesseract's TSV (level 5 rows are words), in reading order."""
    lines: dict[tuple[int, int, int], list[_Word]] = {}
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) < 12 or fields[0] != "5" or not fields[11].strip():
            continue
        key = (int(fields[2]), int(fields[3]), int(fields[4]))
        left, top, width, height = (int(value) for value in fields[6:10])
        word = _Word(fields[11].strip(), left, top, width, height, float(fields[10]))
        lines.setdefault(key, []).append(word)
    if not lines:
        return OcrPage(number, [], None)
    scale = _POINTS_PER_INCH / dpi
    heights = {
        key: max(w.top + w.height for w in words) - min(w.top for w in words)
        for key, words in lines.items()
    }
    usual = statistics.median(heights.values())
    result: list[PdfLine] = []
    for key, words in lines.items():
        # Most words sit on the baseline; the median bottom ignores descenders.
        baseline = statistics.median(w.top + w.height for w in words)
        size = heights[key] if heights[key] > _SAME_SIZE * usual else usual
        y = page_height - baseline * scale
        text = " ".join(w.text for w in words)
        if _MISREAD_ROMAN.match(text):
            text = re.sub("[l1|]", "I", text)
        result.append(
            PdfLine(
                text=text,
                x=min(w.left for w in words) * scale,
                y=y,
                end_y=y,
                right=max(w.left + w.width for w in words) * scale,
                size=round(size * scale, 1),
                bold=False,
                rotated=False,
            )
        )
    confidences = [w.confidence for words in lines.values() for w in words if w.confidence >= 0]
    return OcrPage(number, result, statistics.fmean(confidences) if confidences else None)
