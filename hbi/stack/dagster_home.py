"""The Dagster instance HBI runs on locally: DAGSTER_HOME under HBI_HOME, with its dagster.yaml."""

from __future__ import annotations

from pathlib import Path

# Written at every `hbi up` / `hbi stack up`, so upgrades of HBI reach existing installations.
INSTANCE_YAML = """\
# Written by hbi; local runs use SQLite storage under this folder.
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # A queued run waits at most this long to start (the default, 5 s, is a sixth of a
    # small book's whole way from upload to search).
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    # Writers of a shared index (SQLite file, Neo4j graph) are assigned to a pool and run
    # one at a time across all runs; extraction and embedding have no pool and run in parallel.
    default_limit: 1
    granularity: op
"""


def ensure_dagster_home(path: Path) -> Path:
    """Create DAGSTER_HOME with HBI's instance settings and return it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(INSTANCE_YAML)
    return path
