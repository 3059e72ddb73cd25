"""Reading a PDF in a child process whose memory and time are capped.

pdfium inflates a content stream whole, so a 1 MB PDF can ask for gigabytes (a "flate bomb"),
and a damaged file can crash it outright. Each PDF is therefore read by a fresh Python process
(running `answer_request` below) whose address space is capped at
`ExtractLimits.max_pdf_memory_bytes` plus the file's size and which is killed after
`max_pdf_seconds` plus `max_ocr_seconds` (pages without text are OCR'd there, by Tesseract
processes that inherit the memory cap). A child that hits the cap or crashes becomes a typed
error for that book, while the process running the asset, and every other book in it, carries on.

The request and the answer travel as pickles over the child's stdin and stdout: the child is
this same program run by the same user, so its answer is trusted as much as the parent.
"""

from __future__ import annotations

import contextlib
import pickle
import resource
import signal
import subprocess
import sys

from hbi.books.book import ExtractedBook
from hbi.errors import BookError, BookTooLargeError, CorruptBookError
from hbi.extract.limits import MIB, ExtractLimits
from hbi.extract.pdf import extract_pdf

# pdfium aborts when an allocation fails under the cap; other signals are crashes.
_OUT_OF_MEMORY_SIGNALS = frozenset({signal.SIGABRT, signal.SIGKILL})


def extract_pdf_in_child(data: bytes, name: str, limits: ExtractLimits) -> ExtractedBook:
    """The PDF's book as `extract_pdf` reads it, read in a capped child process."""
    memory_cap = limits.max_pdf_memory_bytes + len(data)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", f"import {__name__} as child; child.answer_request()"],
            input=pickle.dumps((data, name, limits, memory_cap)),
            capture_output=True,
            timeout=limits.max_pdf_seconds + limits.max_ocr_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        seconds = limits.max_pdf_seconds + limits.max_ocr_seconds
        raise BookTooLargeError(
            name, f"reading the PDF (with OCR) took more than {seconds:,.0f} s"
        ) from exc
    if completed.returncode != 0:
        raise _child_failure(name, completed, memory_cap)
    outcome = pickle.loads(completed.stdout)
    if isinstance(outcome, BookError):
        raise outcome
    return outcome


def _child_failure(name: str, completed: subprocess.CompletedProcess, memory_cap: int) -> Exception:
    """The error to raise for a child that died instead of answering."""
    if completed.returncode < 0:
        died = signal.Signals(-completed.returncode)
        if died in _OUT_OF_MEMORY_SIGNALS:
            return BookTooLargeError(
                name,
                f"the PDF reader stopped ({died.name}): reading this file needs more than "
                f"{memory_cap // MIB:,} MiB of memory",
            )
        return CorruptBookError(name, f"the PDF reader crashed ({died.name}) on this file")
    # An exception in the child is a bug in HBI, not a property of the book: say so.
    return RuntimeError(
        f"{name}: the PDF reader process failed with exit status {completed.returncode}:\n"
        + completed.stderr.decode("utf-8", "replace")[-4000:]
    )


def answer_request() -> None:
    """Read one request from stdin, cap this process's memory, extract, pickle the outcome."""
    data, name, limits, memory_cap = pickle.load(sys.stdin.buffer)
    # On a platform without address-space limits the time limit still applies.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    try:
        outcome: ExtractedBook | BookError = extract_pdf(data, name, limits)
    except BookError as exc:
        outcome = exc
    except MemoryError:
        outcome = BookTooLargeError(
            name, f"reading this file needs more than {memory_cap // MIB:,} MiB of memory"
        )
    sys.stdout.buffer.write(pickle.dumps(outcome))
