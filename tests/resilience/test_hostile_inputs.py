"""Every hostile book ends in a typed error or a correct book, within bounded time and memory.

Each book goes through `prepare_book` (what the book_bundle asset runs before it embeds:
extraction, chunking, rows) in a process of its own. The bounds are safety nets against runaway
behaviour (bombs, quadratic parsing), not speed targets: RESILIENCE.md documents them with the
limits that enforce them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hbi.extract.limits import DEFAULT_LIMITS, MIB
from tests.resilience.hostile_books import HOSTILE_BOOKS, INDEXED, HostileBook

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = 30
# The process running the pipeline; a PDF's reader child is capped by the extraction limits.
MAX_RSS_GROWTH_MIB = 512
PDF_CHILD_CAP_MIB = DEFAULT_LIMITS.max_pdf_memory_bytes / MIB
# The probe is killed past this, so a runaway book fails the test instead of hanging the run.
KILL_AFTER_S = 120


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    """Probe results by object key, so each book is built and probed once per module."""
    return {}


def probed(case: HostileBook, outcomes: dict[str, dict], folder: Path) -> dict:
    """The probe's result for the case: built, written to `folder` and run once."""
    if case.key not in outcomes:
        path = folder / "book"
        path.write_bytes(case.build())
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.resilience.extraction_probe",
                str(path),
                case.key,
                *case.present,
                *case.absent,
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=KILL_AFTER_S,
        )
        assert completed.returncode == 0, f"{case.key} crashed:\n{completed.stderr[-4000:]}"
        outcomes[case.key] = json.loads(completed.stdout)
    return outcomes[case.key]


@pytest.mark.parametrize("case", HOSTILE_BOOKS, ids=lambda case: case.key)
def test_hostile_book_gets_a_typed_error_or_a_correct_book(case, outcomes, tmp_path) -> None:
    result = probed(case, outcomes, tmp_path)
    assert result["outcome"] == case.outcome, result
    if case.outcome == INDEXED:
        assert result["chunks"] > 0
        found = result["found"]
        assert all(found[needle] for needle in case.present), found
        assert not any(found[needle] for needle in case.absent), found
    else:
        assert result["message"].startswith(f"{case.key}: {case.outcome}: "), result


@pytest.mark.parametrize("case", HOSTILE_BOOKS, ids=lambda case: case.key)
def test_hostile_book_stays_within_time_and_memory_bounds(case, outcomes, tmp_path) -> None:
    result = probed(case, outcomes, tmp_path)
    assert result["seconds"] < MAX_SECONDS, result
    assert result["peak_rss_growth_mib"] < MAX_RSS_GROWTH_MIB, result
    assert result["child_peak_rss_mib"] < PDF_CHILD_CAP_MIB + result["file_mib"], result
