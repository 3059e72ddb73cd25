"""The browser app: the HTML pages, scripts and styles `hbi serve` serves (hbi/api/page.py)."""

from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
