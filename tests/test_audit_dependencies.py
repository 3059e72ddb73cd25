"""The CI dependency audit's reading of pip-audit's JSON report (scripts/audit_dependencies.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit_dependencies.py"
_spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def _vulnerable(name: str, fixes: list[str]) -> dict:
    vulns = [{"id": f"PYSEC-{name}", "fix_versions": fixes}]
    return {"name": name, "version": "1.0", "vulns": vulns}


def test_a_vulnerability_with_a_fix_is_a_failure() -> None:
    _, fixable, unfixed, _ = audit.classify({"dependencies": [_vulnerable("a", ["1.1"])]})
    assert fixable == ["a 1.0: PYSEC-a, fixed in 1.1"] and unfixed == []


def test_a_vulnerability_without_a_fix_is_only_a_warning() -> None:
    _, fixable, unfixed, _ = audit.classify({"dependencies": [_vulnerable("b", [])]})
    assert fixable == [] and unfixed == ["b 1.0: PYSEC-b, no fix released"]


def test_a_package_that_could_not_be_checked_leaves_the_audit_incomplete() -> None:
    report = {"dependencies": [{"name": "c", "skip_reason": "Dependency not found on PyPI"}]}
    audited, _, _, unaudited = audit.classify(report)
    assert audited == 0 and unaudited == ["Dependency not found on PyPI"]


def test_the_editable_project_itself_is_neither_audited_nor_missing() -> None:
    report = {"dependencies": [{"name": "hbi", "skip_reason": "distribution marked as editable"}]}
    assert audit.classify(report) == (0, [], [], [])


def test_clean_packages_count_as_audited() -> None:
    report = {"dependencies": [{"name": "d", "version": "2.0", "vulns": []}]}
    assert audit.classify(report) == (1, [], [], [])
