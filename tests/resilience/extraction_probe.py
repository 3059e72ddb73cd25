"""Runs one book file through `prepare_book` (book_bundle before embedding) and prints the outcome.

`python -m tests.resilience.extraction_probe PATH OBJECT_KEY [NEEDLE ...]` prints one JSON
object: the outcome ("indexed" or the BookError kind), the error message or the book's format,
chunk count and which NEEDLEs its text contains, the seconds taken, how far this process's
peak resident memory rose above its resident memory before the book was read (the peak is
reset first where Linux allows it, else the growth is over-stated, never under-stated), and
the peak of the PDF reader's child process, if one ran. It runs in a process of its own so
that each book's memory is measured alone and a runaway book cannot take the test process with
it; any other exception is a crash, reported with a traceback and exit status 1.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from pathlib import Path

from hbi.books.ids import book_id_for_key
from hbi.bundle.build import prepare_book
from hbi.embedding.tokenizer import MiniLMTokenizer
from hbi.errors import BookError


def memory_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status ("VmRSS", "VmHWM") in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def reset_peak_memory() -> None:
    """Make the peak resident memory (VmHWM) the current one, where the kernel allows it."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def probe(path: Path, object_key: str, needles: list[str]) -> dict:
    """Return what happened to the book at `path` stored under `object_key`."""
    tokenizer = MiniLMTokenizer.from_package()
    reset_peak_memory()
    before = memory_mib("VmRSS")
    started = time.perf_counter()
    data = path.read_bytes()
    try:
        prepared = prepare_book(
            data,
            book_id=book_id_for_key(object_key),
            object_key=object_key,
            etag=None,
            tokenizer=tokenizer,
        )
    except BookError as exc:
        result = {"outcome": exc.kind, "message": str(exc)}
    else:
        text = prepared.book.text
        result = {
            "outcome": "indexed",
            "format": prepared.book.format,
            "chunks": len(prepared.rows.chunks),
            "found": {needle: needle in text for needle in needles},
        }
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["peak_rss_growth_mib"] = round(memory_mib("VmHWM") - before, 1)
    # Linux reports ru_maxrss in KiB; for children it is the largest one's peak.
    result["child_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
    )
    result["file_mib"] = round(len(data) / 1024 / 1024, 1)
    return result


if __name__ == "__main__":
    book_path, key, *words = sys.argv[1:]
    print(json.dumps(probe(Path(book_path), key, words)))
