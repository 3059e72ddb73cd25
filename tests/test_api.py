"""The HTTP API against the session's real stack and the ingested corpus."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hbi.api import create_app
from hbi.config import layout
from hbi.index.db import default_index_path
from hbi.search.query_log import QueryLog
from hbi.stack import LocalStack
from hbi_resources.index import IndexResource
from tests.conftest import shared_dir

pytestmark = pytest.mark.integration

ALICE = "lewis-carroll_alices-adventures-in-wonderland.txt"
WAR = "sun-tzu_the-art-of-war.md"
ALICE_SENTENCE = "Either the well was very deep, or she fell very slowly"
API_KEY = "test-api-key"


@pytest.fixture(scope="module")
def client(ingested) -> TestClient:
    return TestClient(create_app(api_key=""))


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
def test_search_finds_a_distinctive_sentence_in_every_mode(client: TestClient, mode: str) -> None:
    response = client.get("/search", params={"q": ALICE_SENTENCE, "mode": mode})
    assert response.status_code == 200
    top = response.json()["hits"][0]
    assert top["rank"] == 1 and top["book_id"] == ALICE
    assert top["section_path"][-1].startswith("CHAPTER I.")


def test_search_answers_in_the_cli_json_shape(client: TestClient) -> None:
    payload = client.get("/search", params={"q": "rabbit", "k": 3}).json()
    assert list(payload) == ["query", "mode", "took_ms", "hits"]
    assert payload["query"] == "rabbit" and payload["mode"] == "hybrid"
    assert 0 < len(payload["hits"]) <= 3
    assert set(payload["hits"][0]) == {
        "rank", "book_id", "title", "authors", "section_path", "section_id",
        "page_start", "page_end", "page_label", "chunk_id", "snippet", "score", "ocr",
    }  # fmt: skip


def test_search_filters_by_book(client: TestClient) -> None:
    payload = client.get("/search", params={"q": "war and time", "book": [ALICE]}).json()
    assert payload["hits"] and {hit["book_id"] for hit in payload["hits"]} == {ALICE}


@pytest.mark.parametrize(
    "params",
    [
        {"q": "rabbit", "k": 0},
        {"q": "rabbit", "k": 1000},
        {"q": "rabbit", "mode": "bogus"},
        {"k": 5},
        {"q": "a" * 5000},
        {"q": ""},
        {"q": "rabbit", "offset": -1},
        {"q": "rabbit", "offset": 10_001},
        {"q": "rabbit", "book": ["b"] * 51},
        {"q": "rabbit", "author": "a" * 301},
        {"q": "rabbit", "format": ""},
        {"q": "rabbit", "section": "s" * 301},
    ],
)
def test_bad_search_parameters_are_refused(client: TestClient, params: dict) -> None:
    response = client.get("/search", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_overlong_query_string_is_refused_before_parsing(client: TestClient) -> None:
    response = client.get("/search?q=rabbit" + "&book=b" * 3000)
    assert response.status_code == 414
    assert response.json()["detail"]


def test_overlong_book_id_is_refused(client: TestClient) -> None:
    assert client.get("/books/" + "x" * 301).status_code == 422
    assert client.get("/books/" + "x" * 301 + "/toc").status_code == 422


def test_concurrent_searches_all_succeed(client: TestClient) -> None:
    # Each search used to open the DuckDB query log in its request thread; two at once failed.
    queries = [{"q": f"rabbit {i}", "mode": ("hybrid", "lexical")[i % 2]} for i in range(24)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda p: client.get("/search", params=p).status_code, queries))
    assert statuses == [200] * len(queries)


def test_searches_reach_the_query_log(
    ingested, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A query log of its own: the other tests' apps may still be writing to the session's.
    monkeypatch.setenv("HBI_INDEX_PATH", default_index_path())
    monkeypatch.setenv("HBI_HOME", str(tmp_path))
    query = f"rabbit {uuid.uuid4().hex}"
    with TestClient(create_app(api_key="")) as app_client:  # leaving it flushes the log
        assert app_client.get("/search", params={"q": query}).status_code == 200
    logged = [e for e in QueryLog(layout().query_log).entries() if e["query"] == query]
    assert len(logged) == 1 and logged[0]["source"] == "api"


def test_unknown_section_is_not_found(client: TestClient) -> None:
    response = client.get("/search", params={"q": "rabbit", "section": "no-such-section"})
    assert response.status_code == 404
    assert "no-such-section" in response.json()["detail"]


def test_books_lists_the_corpus_in_the_cli_shape(client: TestClient) -> None:
    rows = client.get("/books").json()
    assert len(rows) >= 8
    war = next(row for row in rows if row["book_id"] == WAR)
    assert list(war) == [
        "book_id", "title", "authors", "format", "language", "pages", "ocr", "chunks",
        "toc_entries", "status",
    ]  # fmt: skip
    assert war["status"] == "ready" and war["toc_entries"] == 16
    assert war["language"] == "en" and war["ocr"] is None


def test_books_are_paged_with_the_total_in_a_header(client: TestClient) -> None:
    everything = client.get("/books").json()
    response = client.get("/books", params={"limit": 2, "offset": 1})
    assert response.status_code == 200
    assert response.json() == everything[1:3]
    assert response.headers["X-Total-Count"] == str(len(everything))


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}])
def test_bad_books_page_is_refused(client: TestClient, params: dict) -> None:
    assert client.get("/books", params=params).status_code == 422


def test_book_gives_its_index_row(client: TestClient) -> None:
    response = client.get(f"/books/{WAR}")
    assert response.status_code == 200
    assert response.json()["book_id"] == WAR


def test_unknown_book_is_not_found(client: TestClient) -> None:
    assert client.get("/books/unknown").status_code == 404
    assert client.get("/books/unknown/toc").status_code == 404


def test_toc_equals_the_expected_toc(client: TestClient) -> None:
    expected = json.loads(
        (shared_dir() / "corpus" / "expected-toc" / "sun-tzu_the-art-of-war.toc.json").read_text()
    )
    entries = client.get(f"/books/{WAR}/toc").json()
    assert len(entries) == 16
    assert [{"level": e["level"], "title": e["title"]} for e in entries] == expected
    assert all(set(e) == {"level", "title", "page", "page_label", "section_id"} for e in entries)
    assert all(e["section_id"] for e in entries)


def test_health_is_ok_when_everything_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"sqlite", "sqlite_vec", "neo4j", "minio"}
    assert all(check["ok"] for check in body["checks"].values())


def test_health_is_unavailable_when_neo4j_is_unreachable(
    ingested, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBI_NEO4J_URI", "bolt://127.0.0.1:1")
    response = TestClient(create_app(api_key="")).get("/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["neo4j"]["ok"] is False and checks["neo4j"]["detail"]
    assert checks["minio"]["ok"] and checks["sqlite"]["ok"]


def test_health_is_red_while_the_neo4j_server_is_stopped_and_green_once_it_is_back(
    stack: LocalStack,
) -> None:
    IndexResource().connect().close()  # the index exists, as it does after any ingest
    client = TestClient(create_app(api_key=""))
    with stack.stopped("neo4j"):
        down = client.get("/health")
    up = client.get("/health")
    assert down.status_code == 503
    assert down.json()["ok"] is False
    checks = down.json()["checks"]
    assert checks["neo4j"]["ok"] is False and checks["neo4j"]["detail"]
    assert checks["minio"]["ok"] and checks["sqlite"]["ok"] and checks["sqlite_vec"]["ok"]
    assert up.status_code == 200 and up.json()["ok"] is True


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/search", params={"q": "rabbit"})
    client.get(f"/books/{WAR}")
    text = client.get("/metrics").text
    assert 'hbi_http_requests_total{path="/search",status="200"}' in text
    assert 'hbi_http_request_duration_seconds_bucket{le="+Inf",path="/search"}' in text
    assert 'hbi_http_request_duration_seconds_count{path="/search"}' in text
    assert 'path="/books/{book_id}"' in text and WAR not in text


@pytest.fixture(scope="module")
def keyed_client(ingested) -> TestClient:
    return TestClient(create_app(api_key=API_KEY))


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
def test_api_key_refuses_requests_without_it(keyed_client: TestClient, headers: dict) -> None:
    for path in ("/search?q=rabbit", "/books", "/metrics", "/openapi.json"):
        assert keyed_client.get(path, headers=headers).status_code == 401


def test_api_key_admits_requests_with_it(keyed_client: TestClient) -> None:
    headers = {"X-API-Key": API_KEY}
    assert keyed_client.get("/search?q=rabbit", headers=headers).status_code == 200
    assert keyed_client.get("/books", headers=headers).status_code == 200


def test_health_needs_no_api_key(keyed_client: TestClient) -> None:
    assert keyed_client.get("/health").status_code == 200


def test_health_without_the_key_says_only_whether_it_is_ok(keyed_client: TestClient) -> None:
    assert keyed_client.get("/health").json() == {"ok": True}


@pytest.mark.parametrize(
    "headers", [{"X-API-Key": API_KEY}, {"Authorization": f"Bearer {API_KEY}"}], ids=str
)
def test_health_with_the_key_gives_every_check(keyed_client: TestClient, headers: dict) -> None:
    body = keyed_client.get("/health", headers=headers).json()
    assert set(body["checks"]) == {"sqlite", "sqlite_vec", "neo4j", "minio"}


def test_health_with_a_wrong_bearer_token_says_only_whether_it_is_ok(
    keyed_client: TestClient,
) -> None:
    assert keyed_client.get("/health", headers={"Authorization": "Bearer nope"}).json() == {
        "ok": True
    }


def test_root_serves_the_search_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/search?" in response.text


def test_openapi_lists_search(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/search" in schema["paths"] and schema["info"]["version"]
