"""The API's /metrics: process metrics, requests by route, searches by mode, and the library's
figures (index, buckets, backups, disk) from a real `hbi serve` over the session's library."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hbi.api import create_app
from hbi.api.metrics import ApiMetrics, MetricsMiddleware
from hbi.backup.full import take_full_backup
from hbi.backup.retention import backup_time
from hbi.books.ids import book_id_for_key
from hbi.bundle.failures import clear_failure, record_failure
from hbi.catalog import default_catalog_path
from hbi.embedding.model_files import installed_model_id
from hbi.index import reads
from hbi.index.db import connect, default_index_path
from hbi.stack.process import free_port
from tests.api_clients import ServedApi, start_api


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


def test_searches_are_timed_by_mode() -> None:
    metrics = ApiMetrics()
    metrics.observe_search("lexical", 0.02)
    metrics.observe_search("lexical", 0.03)
    metrics.observe_search("semantic", 3.0)
    text = _exposition(metrics)
    assert 'hbi_search_duration_seconds_count{mode="lexical"} 2.0' in text
    assert 'hbi_search_duration_seconds_bucket{le="0.05",mode="lexical"} 2.0' in text
    assert 'hbi_search_duration_seconds_bucket{le="2.0",mode="semantic"} 0.0' in text


def _without_servers(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.setenv("HBI_HOME", str(home))
    for name in ("HBI_MINIO_ENDPOINT", "HBI_NEO4J_URI", "HBI_INDEX_PATH", "HBI_METRICS_TTL_S"):
        mp.delenv(name, raising=False)


def test_a_new_home_reports_its_sources_down_and_its_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_servers(monkeypatch, tmp_path)
    with TestClient(create_app(api_key="")) as client:
        samples = _samples(client.get("/metrics").text)
    assert samples['hbi_library_source_up{source="index"}'] == 0
    assert samples['hbi_library_source_up{source="object_store"}'] == 0
    assert (
        0 < samples["hbi_index_filesystem_free_bytes"] <= samples["hbi_index_filesystem_size_bytes"]
    )
    assert "hbi_books_indexed" not in samples and "hbi_books_pending" not in samples


def test_a_scrape_answers_at_once_while_minio_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_servers(monkeypatch, tmp_path)
    monkeypatch.setenv("HBI_MINIO_ENDPOINT", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HBI_MINIO_ACCESS_KEY", "nobody")
    monkeypatch.setenv("HBI_MINIO_SECRET_KEY", "nothing-here")
    monkeypatch.setenv("HBI_METRICS_TTL_S", "0")
    with TestClient(create_app(api_key="")) as client:
        first = _samples(client.get("/metrics").text)
        # Later scrapes never wait for a gathering, even one stuck on the object store.
        started = time.perf_counter()
        response = client.get("/metrics")
        seconds = time.perf_counter() - started
    assert first['hbi_library_source_up{source="object_store"}'] == 0
    assert "hbi_backup_full_count" not in first
    assert response.status_code == 200 and seconds < 1.0, seconds


def _samples(exposition: str) -> dict[str, float]:
    """Return every sample of a text exposition by name and labels, as Prometheus writes them."""
    samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


API_KEY = "metrics-test-key"


@pytest.fixture(scope="module")
def served(ingested) -> Iterator[ServedApi]:
    """`hbi serve` over the session's library, regathering its figures every half second."""
    environ = {"HBI_API_KEY": API_KEY, "HBI_METRICS_TTL_S": "0.5"}
    served = start_api(free_port(), api_key=API_KEY, environ=environ)
    yield served
    served.stop()


def scrape(served: ServedApi) -> dict[str, float]:
    """Scrape the API's /metrics as Prometheus does, with the key as a bearer token."""
    response = httpx.get(
        served.url + "/metrics", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )
    response.raise_for_status()
    return _samples(response.text)


def scrape_until(served: ServedApi, holds: Callable[[dict[str, float]], bool]) -> dict:
    """Scrape until holds(samples) is true (figures are regathered in the background)."""
    deadline = time.monotonic() + 20
    while True:
        samples = scrape(served)
        if holds(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


def index_figures() -> dict[str, int]:
    with closing(connect(default_index_path(), readonly=True)) as connection:
        return reads.consistency(connection)


@pytest.mark.integration
def test_library_figures_are_those_of_the_index(served: ServedApi) -> None:
    live = index_figures()
    samples = scrape_until(served, lambda s: s.get("hbi_books_indexed") == live["books"])
    assert samples["hbi_books_indexed"] == live["books"] >= 8
    assert samples["hbi_chunks_indexed"] == live["chunks"]
    assert samples["hbi_vectors_indexed"] == live["vectors"]
    assert samples['hbi_library_source_up{source="index"}'] == 1
    assert samples['hbi_library_source_up{source="object_store"}'] == 1
    assert samples["hbi_index_size_bytes"] >= Path(default_index_path()).stat().st_size
    assert samples["hbi_query_log_size_bytes"] >= 0
    assert 0 <= samples["hbi_library_figures_age_seconds"] < 10


@pytest.mark.integration
def test_a_book_not_yet_indexed_is_pending_and_then_failed_with_its_record(
    served: ServedApi, object_store
) -> None:
    before = scrape(served)
    key = "metrics-waiting-book.txt"
    book_id = book_id_for_key(key)
    etag = object_store.put_bytes(object_store.books_bucket, key, b"Not yet read.", "text/plain")
    try:
        waiting = scrape_until(
            served, lambda s: s["hbi_books_pending"] == before["hbi_books_pending"] + 1
        )
        assert waiting["hbi_books_pending"] == before["hbi_books_pending"] + 1
        record_failure(object_store, book_id, key, etag, "extract", "test", "a failed read")
        failed = scrape_until(
            served, lambda s: s["hbi_books_failed"] == before["hbi_books_failed"] + 1
        )
        assert failed["hbi_books_failed"] == before["hbi_books_failed"] + 1
        assert failed["hbi_books_pending"] == before["hbi_books_pending"]
    finally:
        object_store.client().remove_object(object_store.books_bucket, key)
        clear_failure(object_store, book_id)


@pytest.mark.integration
def test_backup_age_is_that_of_the_newest_full_backup(served: ServedApi, object_store) -> None:
    taken = take_full_backup(object_store, Path(default_catalog_path()), installed_model_id())
    taken_at = backup_time(taken["manifest"]["backup_id"]).timestamp()
    samples = scrape_until(
        served, lambda s: s.get("hbi_backup_last_full_timestamp_seconds") == taken_at
    )
    assert samples["hbi_backup_last_full_timestamp_seconds"] == taken_at
    assert 0 <= samples["hbi_backup_last_full_age_seconds"] < 120
    assert samples["hbi_backup_full_count"] >= 1


@pytest.mark.integration
def test_searches_through_the_api_are_timed_by_mode(served: ServedApi) -> None:
    for mode in ("lexical", "semantic", "lexical"):
        assert served.get("/search", q="cryptographic erase", mode=mode).status_code == 200
    samples = scrape(served)
    assert samples['hbi_search_duration_seconds_count{mode="lexical"}'] >= 2
    assert samples['hbi_search_duration_seconds_count{mode="semantic"}'] >= 1


@pytest.mark.integration
def test_index_figures_are_exported_while_minio_and_neo4j_are_down(ingested) -> None:
    environ = {
        "HBI_API_KEY": API_KEY,
        "HBI_MINIO_ENDPOINT": f"127.0.0.1:{free_port()}",
        "HBI_NEO4J_URI": f"bolt://127.0.0.1:{free_port()}",
    }
    cut_off = start_api(free_port(), api_key=API_KEY, environ=environ)
    try:
        samples = scrape_until(cut_off, lambda s: "hbi_books_indexed" in s)
    finally:
        cut_off.stop()
    assert samples["hbi_books_indexed"] == index_figures()["books"]
    assert samples['hbi_library_source_up{source="index"}'] == 1
    assert samples['hbi_library_source_up{source="object_store"}'] == 0
    assert "hbi_books_pending" not in samples and "hbi_backup_full_count" not in samples
