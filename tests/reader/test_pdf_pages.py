"""A PDF page read in a capped child: its text lines with boxes, its PNG, and hostile files."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import pytest

from hbi.reader.errors import UnreadablePageError
from hbi.reader.pdf_pages import PAGE_SECONDS, clamp_width, encode_png, page_png, page_text
from tests.conftest import shared_dir
from tests.resilience.hostile_books import _flate_bomb_pdf

TIME_MACHINE = shared_dir() / "corpus" / "h-g-wells_the-time-machine.pdf"


def test_a_page_has_its_lines_in_reading_order_with_boxes_inside_the_page() -> None:
    text = page_text(TIME_MACHINE, "tm", 11)
    assert round(text.width) == 595 and round(text.height) == 842
    assert text.lines[3].text.startswith("ever crawled dashed by too fast for me. The twinkling")
    assert all(line.x >= 0 and line.x + line.w <= 1 for line in text.lines)
    assert all(line.y >= 0 and line.y + line.h <= 1 for line in text.lines)
    assert [line.y for line in text.lines] == sorted(line.y for line in text.lines)


def test_a_page_image_is_a_png_exactly_as_wide_as_asked() -> None:
    data = page_png(TIME_MACHINE, "tm", 11, 333)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24])[0] == 333


def test_widths_are_clamped() -> None:
    assert [clamp_width(w) for w in (None, 1, 500, 10_000)] == [1000, 200, 500, 2000]


def test_the_png_encoder_writes_rows_behind_a_filter_byte() -> None:
    data = encode_png(bytes([255, 0, 0, 0, 255, 0]), 2, 1)
    idat_at = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat_at - 4 : idat_at])[0]
    assert (
        zlib.decompress(data[idat_at + 4 : idat_at + 4 + length]) == b"\x00\xff\x00\x00\x00\xff\x00"
    )


def test_a_file_that_is_no_pdf_is_an_unreadable_page(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.7 not really" * 50)
    with pytest.raises(UnreadablePageError, match="garbage: pdfium cannot read"):
        page_text(garbage, "garbage", 1)


def test_a_page_past_the_end_is_an_unreadable_page() -> None:
    with pytest.raises(UnreadablePageError, match="cannot read"):
        page_png(TIME_MACHINE, "tm", 10_000, 500)


def test_a_flate_bomb_page_stops_at_the_memory_cap_not_the_server(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(_flate_bomb_pdf(1100))
    started = time.monotonic()
    with pytest.raises(UnreadablePageError):
        page_png(bomb, "bomb", 1, 500)
    assert time.monotonic() - started < PAGE_SECONDS
