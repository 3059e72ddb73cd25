"""Audit the virtualenv's packages for known vulnerabilities; fail on those a release fixes.

Runs pip-audit (PyPI's vulnerability data) over every package installed in this interpreter's
environment and reads its JSON report:
- a vulnerability with a fixed version is a failure (exit 1): upgrading is possible, so CI says so;
- one without a fix is listed as a warning and does not fail the build;
- a package pip-audit could not check (the service unreachable, or the package unknown to it)
  makes the audit incomplete (exit 2), because pip-audit itself reports "No known
  vulnerabilities found" when it checked nothing. HBI's own editable install is not audited.

    .venv/bin/python scripts/audit_dependencies.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CLEAN, FIXABLE, INCOMPLETE = 0, 1, 2


def run_pip_audit() -> dict:
    """Return pip-audit's JSON report on this environment; raise if it produced none."""
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"]
    result = subprocess.run([*command, "--skip-editable"], capture_output=True, text=True)
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"pip-audit failed ({result.returncode}):\n{result.stderr}") from exc


def classify(report: dict) -> tuple[int, list[str], list[str], list[str]]:
    """Return (packages audited, fixable vulnerabilities, unfixed ones, packages not audited)."""
    audited, fixable, unfixed, unaudited = 0, [], [], []
    for dependency in report["dependencies"]:
        reason = dependency.get("skip_reason")
        if reason:
            if "editable" not in reason:
                unaudited.append(reason)
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            fixes = vulnerability.get("fix_versions") or []
            line = f"{dependency['name']} {dependency['version']}: {vulnerability['id']}"
            if fixes:
                fixable.append(f"{line}, fixed in {', '.join(fixes)}")
            else:
                unfixed.append(f"{line}, no fix released")
    return audited, fixable, unfixed, unaudited


def main() -> int:
    report = run_pip_audit()
    audited, fixable, unfixed, unaudited = classify(report)
    print(f"[audit] {audited} packages audited, {len(unaudited)} could not be")
    for line in unfixed:
        print(f"[audit] warning: {line}")
    for line in fixable:
        print(f"[audit] VULNERABLE: {line}")
    if fixable:
        return FIXABLE
    if unaudited:
        shown = "\n  ".join(unaudited[:10]) + ("\n  …" if len(unaudited) > 10 else "")
        print(f"[audit] incomplete: these packages were not checked:\n  {shown}")
        return INCOMPLETE
    return CLEAN


if __name__ == "__main__":
    sys.exit(main())
