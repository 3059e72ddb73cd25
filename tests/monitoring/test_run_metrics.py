"""The Dagster run exporter (hbi_assets/run_metrics.py) counts a real instance's runs by status
and serves them over HTTP, and reports an unreachable instance as hbi_dagster_up 0."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hbi.stack.process import free_port
from hbi_assets.run_metrics import serve


@dg.asset
def shelved() -> int:
    return 1


@dg.asset
def torn() -> int:
    raise ValueError("a torn page")


def _values(port: int) -> dict[tuple[str, str], float]:
    """Scrape the exporter; return each hbi_dagster_* sample's value by (name, status)."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (sample.name, sample.labels.get("status", "")): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name.startswith("hbi_dagster_")
    }


def _start_run(instance: dg.DagsterInstance) -> None:
    instance.add_run(
        dg.DagsterRun(
            job_name="ingest_book", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
        )
    )


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A local instance in tmp_path holding two successful runs, one failed and one in progress."""
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        for _ in range(2):
            assert dg.materialize([shelved], instance=instance).success
        assert not dg.materialize([torn], instance=instance, raise_on_error=False).success
        _start_run(instance)
        yield instance


def test_exporter_serves_runs_by_status(instance: dg.DagsterInstance) -> None:
    port = free_port()
    server, _ = serve("127.0.0.1", port, lambda: instance, ttl_s=0)
    try:
        values = _values(port)
    finally:
        server.shutdown()
    assert values[("hbi_dagster_up", "")] == 1
    assert values[("hbi_dagster_runs_finished_total", "success")] == 2
    assert values[("hbi_dagster_runs_finished_total", "failure")] == 1
    assert values[("hbi_dagster_runs_finished_total", "canceled")] == 0
    assert values[("hbi_dagster_runs", "started")] == 1
    assert values[("hbi_dagster_runs", "queued")] == 0


def test_exporter_reads_the_instance_at_most_once_per_ttl(instance: dg.DagsterInstance) -> None:
    port = free_port()
    server, _ = serve("127.0.0.1", port, lambda: instance, ttl_s=1.0)
    try:
        assert _values(port)[("hbi_dagster_runs", "started")] == 1
        _start_run(instance)
        assert _values(port)[("hbi_dagster_runs", "started")] == 1
        time.sleep(1.1)
        assert _values(port)[("hbi_dagster_runs", "started")] == 2
    finally:
        server.shutdown()


def test_exporter_without_an_instance_reports_down_and_still_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    port = free_port()
    server, _ = serve("127.0.0.1", port, ttl_s=0)
    try:
        values = _values(port)
    finally:
        server.shutdown()
    assert values == {("hbi_dagster_up", ""): 0}


def test_module_serves_the_instance_of_dagster_home(instance: dg.DagsterInstance) -> None:
    """`python -m hbi_assets.run_metrics` reads $DAGSTER_HOME's instance on the port it is given."""
    port = free_port()
    environ = os.environ | {"DAGSTER_HOME": instance.root_directory}
    process = subprocess.Popen(
        [sys.executable, "-m", "hbi_assets.run_metrics", "--port", str(port)], env=environ
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                values = _values(port)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(30)
    assert values[("hbi_dagster_up", "")] == 1
    assert values[("hbi_dagster_runs_finished_total", "failure")] == 1
