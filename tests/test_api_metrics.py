"""The API's /metrics: prometheus_client output with process metrics and requests by route."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hbi.api import create_app
from hbi.api.metrics import ApiMetrics, MetricsMiddleware


def _app_with_metrics() -> tuple[FastAPI, ApiMetrics]:
    app = FastAPI()
    metrics = ApiMetrics()

    @app.get("/books/{book_id}")
    def book(book_id: str) -> dict:
        return {"book_id": book_id}

    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app, metrics


def _exposition(metrics: ApiMetrics, accept: str = "") -> str:
    body, _ = metrics.exposition(accept)
    return body.decode()


def test_requests_are_counted_under_their_route_template() -> None:
    app, metrics = _app_with_metrics()
    TestClient(app).get("/books/alice.txt")
    text = _exposition(metrics)
    assert 'hbi_http_requests_total{path="/books/{book_id}",status="200"} 1.0' in text
    assert 'hbi_http_request_duration_seconds_count{path="/books/{book_id}"} 1.0' in text
    assert "alice.txt" not in text


def test_unknown_paths_share_the_unmatched_label() -> None:
    app, metrics = _app_with_metrics()
    client = TestClient(app)
    client.get("/no/such/page")
    client.get("/another")
    assert 'hbi_http_requests_total{path="unmatched",status="404"} 2.0' in _exposition(metrics)


def test_process_and_platform_metrics_are_exposed() -> None:
    text = _exposition(ApiMetrics())
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"):
        assert f"\n{name}" in text


def test_each_instance_has_its_own_registry() -> None:
    first, second = ApiMetrics(), ApiMetrics()
    first.observe("/search", 200, 0.01)
    assert "hbi_http_requests_total{" not in _exposition(second)


def test_a_counter_kept_elsewhere_is_read_at_each_scrape() -> None:
    metrics = ApiMetrics()
    dropped = [0]
    metrics.count_from("hbi_query_log_dropped_total", "Searches not logged.", lambda: dropped[0])
    dropped[0] = 3
    assert "\nhbi_query_log_dropped_total 3.0\n" in _exposition(metrics)


def test_openmetrics_is_served_when_asked_for() -> None:
    body, content_type = ApiMetrics().exposition("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_app_metrics_route_serves_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBI_HOME", str(tmp_path))
    with TestClient(create_app(api_key="")) as client:
        client.get("/no/such/page")
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'hbi_http_requests_total{path="unmatched",status="404"} 1.0' in response.text
    assert "\nhbi_query_log_dropped_total 0.0\n" in response.text
    assert "\nprocess_resident_memory_bytes " in response.text


def test_head_requests_are_counted_under_their_get_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBI_HOME", str(tmp_path))
    with TestClient(create_app(api_key="")) as client:
        assert client.head("/metrics").status_code == 200
        text = client.get("/metrics").text
    assert 'hbi_http_requests_total{path="/metrics",status="200"} 1.0' in text
