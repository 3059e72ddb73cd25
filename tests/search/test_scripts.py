"""Which queries the English-only sentence model reads, and what hybrid does with the others."""

from __future__ import annotations

import pytest

from hbi.search.scripts import model_reads


@pytest.mark.parametrize(
    ("query", "reads"),
    [
        ("time machine", True),
        ("Étienne à Paris", True),
        ("Đặng Tiểu Bình", True),
        ("", True),
        ("1984", True),
        ("明月", False),
        ("λόγος", False),
        ("война и мир", False),
        ("Tolstoy война и мир", False),
        ("War and Peace война", True),
    ],
)
def test_model_reads_latin_script_queries_only(query: str, reads: bool) -> None:
    assert model_reads(query) is reads
