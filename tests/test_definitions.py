"""HBI's Dagster definitions load and validate, as `dagster dev -w workspace.yaml` would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from tests.conftest import REPO_ROOT


def test_definitions_load_and_validate(stack) -> None:
    from hbi_assets.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_workspace_validates_with_the_dagster_cli(stack) -> None:
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful for code location hbi" in result.stdout + result.stderr
