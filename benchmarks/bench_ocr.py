"""OCR speed: a 12-page image-only PDF read by Tesseract, against the same pages' text layer.

Run: .venv/bin/python benchmarks/bench_ocr.py
Prints a table and writes benchmarks/results/ocr.json. The scan is made from the corpus's
The Time Machine (pages rendered grey at 200 dpi, written into a PDF with no text), as
tests/extract/test_ocr.py makes it; the baseline is the extraction of the original 12 pages,
which have a text layer. Both go through `extract_book`, so the figures include the capped
child process, rendering at `ocr_dpi` and the layout steps. OCR runs with one Tesseract process
(the per-page cost on one core) and with the default pool (one process per core, at most
`max_ocr_workers`).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_ROOT))
from common import machine  # noqa: E402

from hbi.extract import extract_book  # noqa: E402
from hbi.extract.limits import DEFAULT_LIMITS  # noqa: E402
from hbi.extract.pdf_ocr import ocr_langs, ocr_workers  # noqa: E402
from tests.extract.conftest import corpus_dir  # noqa: E402
from tests.extract.ocr_samples import SCAN_DPI, TIME_MACHINE, scan_pages  # noqa: E402

RESULT_PATH = BENCH_DIR / "results" / "ocr.json"


def text_pages(source: Path, count: int) -> bytes:
    """The first `count` pages of source, text layer and all."""
    pdf = pdfium.PdfDocument.new()
    pdf.import_pages(pdfium.PdfDocument(source), list(range(count)))
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def measure(path: str, data: bytes, workers: int, repeats: int) -> dict[str, object]:
    """Best and median seconds of extracting data, as pages per second and seconds per page."""
    limits = replace(DEFAULT_LIMITS, max_ocr_workers=workers)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        book = extract_book(data, f"{path}.pdf", limits)
        times.append(time.perf_counter() - start)
    pages = len(book.pages)
    best = min(times)
    return {
        "path": path,
        "workers": ocr_workers(workers) if book.ocr_pages else 1,
        "pages": pages,
        "ocr_pages": len(book.ocr_pages),
        "mean_confidence": book.ocr_confidence,
        "pages_per_s": round(pages / best, 3),
        "s_per_page": round(best / pages, 3),
        "median_s_per_page": round(sorted(times)[len(times) // 2] / pages, 3),
    }


def print_table(results: dict) -> None:
    info = results["machine"]
    print(
        f"{info['cpu']}, {info['cores']} cores, load before {info['load_average_1m_before']:.2f}, "
        f"Python {info['python']}, {results['tesseract']}, -l {results['langs']}, "
        f"render {results['ocr_dpi']} dpi, scan {results['scan_dpi']} dpi"
    )
    header = f"{'path':<26}{'workers':>8}{'pages':>7}{'pages/s':>9}{'s/page':>8}{'conf %':>8}"
    print(header)
    print("-" * len(header))
    for entry in results["rows"]:
        confidence = entry["mean_confidence"]
        print(
            f"{entry['path']:<26}{entry['workers']:>8}{entry['pages']:>7}"
            f"{entry['pages_per_s']:>9.2f}{entry['s_per_page']:>8.2f}"
            f"{'' if confidence is None else f'{confidence:.1f}':>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each OCR measurement")
    args = parser.parse_args()

    # Taken first: the load average tells a reader whether something else shared the CPU.
    host = machine()
    source = corpus_dir() / TIME_MACHINE
    scan = scan_pages(source, list(range(1, args.pages + 1)))
    original = text_pages(source, args.pages)
    rows = [
        measure("text layer (baseline)", original, DEFAULT_LIMITS.max_ocr_workers, 3),
        measure("OCR, 1 tesseract", scan, 1, args.repeats),
        measure("OCR, pool", scan, DEFAULT_LIMITS.max_ocr_workers, args.repeats),
    ]
    version = subprocess.run(
        ["tesseract", "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    results = {
        "benchmark": "ocr",
        "machine": host,
        "tesseract": version,
        "langs": ocr_langs(),
        "ocr_dpi": DEFAULT_LIMITS.ocr_dpi,
        "scan_dpi": SCAN_DPI,
        "rows": rows,
    }
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"wrote {RESULT_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
