"""Debian's Prometheus scrapes a real `hbi serve` over the corpus library and the Dagster run
exporter over a real instance with the shipped scrape config, and every query of the shipped
rules and dashboard runs against what it scraped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import dagster as dg
import httpx
import pytest

from hbi.backup.full import take_full_backup
from hbi.catalog import default_catalog_path
from hbi.embedding.model_files import installed_model_id
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.stack.process import free_port
from hbi_assets.run_metrics import serve
from tests.api_clients import ServedApi, start_api
from tests.monitoring.prometheus import (
    HBI_METRIC,
    Prometheus,
    as_grafana_sends,
    dashboard_exprs,
    rules,
    scrape_config_for,
    start_prometheus,
)

pytestmark = pytest.mark.integration

API_KEY = "prometheus-test-key"
SEARCH_MODES = ("lexical", "hybrid")


@pytest.fixture(scope="module")
def served(ingested, object_store) -> Iterator[ServedApi]:
    """`hbi serve` with an API key over the corpus library, which has a full backup."""
    take_full_backup(object_store, Path(default_catalog_path()), installed_model_id())
    environ = {"HBI_API_KEY": API_KEY, "HBI_METRICS_TTL_S": "0.5"}
    served = start_api(free_port(), api_key=API_KEY, environ=environ)
    yield served
    served.stop()


@dg.asset
def torn() -> None:
    raise ValueError("a torn page")


@pytest.fixture(scope="module")
def run_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The Dagster run exporter over an instance holding one failed run; yield its port."""
    folder = tmp_path_factory.mktemp("dagster")
    with dg.instance_for_test(temp_dir=str(folder)) as instance:
        dg.materialize([torn], instance=instance, raise_on_error=False)
        port = free_port()
        server, _ = serve("127.0.0.1", port, lambda: instance, ttl_s=0.5)
        yield port
        server.shutdown()


@pytest.fixture(scope="module")
def prometheus(
    served: ServedApi, run_exporter: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping the served API and the run exporter every 2 s, with the shipped rules
    loaded."""
    folder = tmp_path_factory.mktemp("prometheus")
    key_file = folder / "hbi_api_key"
    key_file.write_text(API_KEY + "\n")
    config = scrape_config_for(
        f"127.0.0.1:{served.port}", key_file, dagster_target=f"127.0.0.1:{run_exporter}"
    )
    server = start_prometheus(config, folder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def searched(served: ServedApi, prometheus: Prometheus) -> Prometheus:
    """The Prometheus after the API answered searches in two modes and it scraped them, and
    after it scraped the run exporter."""
    for mode in SEARCH_MODES:
        for query in ("media sanitization", "cryptographic erase"):
            assert served.get("/search", q=query, mode=mode).status_code == 200
    for mode in SEARCH_MODES:
        prometheus.wait_for(f'hbi_search_duration_seconds_count{{mode="{mode}"}} >= 2')
    prometheus.wait_for('up{job="dagster"} == 1')
    return prometheus


def test_prometheus_scrapes_the_api_with_its_key(prometheus: Prometheus) -> None:
    assert prometheus.wait_for('up{job="hbi"} == 1') == [1.0]


def test_prometheus_scrapes_the_dagster_run_exporter(prometheus: Prometheus) -> None:
    assert prometheus.wait_for('up{job="dagster"} == 1') == [1.0]
    assert prometheus.wait_for('hbi_dagster_runs_finished_total{status="failure"}') == [1.0]


def test_books_indexed_is_what_the_index_holds(prometheus: Prometheus) -> None:
    with closing(connect(default_index_path(), readonly=True)) as connection:
        books = len(reads.books(connection))
    assert prometheus.wait_for(f"hbi_books_indexed == {books}") == [books]
    assert books >= 8


def test_backup_age_series_is_scraped(prometheus: Prometheus) -> None:
    [age] = prometheus.wait_for("hbi_backup_last_full_age_seconds")
    assert 0 <= age < 3600
    assert prometheus.wait_for("hbi_backup_last_full_timestamp_seconds")


def test_search_latency_is_scraped_by_mode(searched: Prometheus) -> None:
    counted = searched.query("sum by (mode) (hbi_search_duration_seconds_count)")
    modes = {series["metric"]["mode"] for series in counted["data"]["result"]}
    assert modes >= set(SEARCH_MODES)
    assert searched.values('hbi_search_duration_seconds_bucket{le="+Inf", mode="lexical"}') == [
        searched.values('hbi_search_duration_seconds_count{mode="lexical"}')[0]
    ]


def test_shipped_rules_load_without_errors(searched: Prometheus) -> None:
    groups = httpx.get(searched.url + "/api/v1/rules", timeout=30).json()["data"]["groups"]
    loaded = [rule for group in groups for rule in group["rules"]]
    assert len(loaded) == len(rules())
    assert all(rule["health"] in ("ok", "unknown") for rule in loaded), loaded


def _unparsed_or_unknown(prometheus: Prometheus, exprs: list[str]) -> dict[str, object]:
    """Return, for each expression that fails, the query error or the hbi_* names not scraped."""
    names = prometheus.metric_names()
    problems: dict[str, object] = {}
    for expr in exprs:
        answer = prometheus.query(expr)
        if answer["status"] != "success":
            problems[expr] = answer.get("error")
        elif missing := set(HBI_METRIC.findall(expr)) - names:
            problems[expr] = sorted(missing)
    return problems


def test_every_dashboard_query_runs_on_scraped_metrics(searched: Prometheus) -> None:
    exprs = [as_grafana_sends(expr) for expr in dashboard_exprs()]
    assert len(exprs) >= 20
    assert _unparsed_or_unknown(searched, exprs) == {}


def test_every_rule_expression_runs_on_scraped_metrics(searched: Prometheus) -> None:
    exprs = [rule["expr"] for rule in rules()]
    assert _unparsed_or_unknown(searched, exprs) == {}
