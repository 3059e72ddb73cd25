"""Rate limiting of the API: the HBI_API_RATE_LIMIT syntax, token buckets, 429s, exemptions."""

from __future__ import annotations

import os
import subprocess
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from hbi.api import create_app
from hbi.api.ratelimit import RATE_LIMIT_ENV, RateLimit, RateLimitConfigError, TokenBuckets
from hbi.stack import LocalStack
from hbi.stack.process import free_port
from tests.api_clients import HBI, start_api

pytestmark = pytest.mark.integration

API_KEY = "rate-limit-test-key"
# Cheap to answer and limited like any library route; needs no ingested books.
LIMITED = "/openapi.json"


def app_client(
    mp: pytest.MonkeyPatch, limit: str, address: str = "198.51.100.1", api_key: str = ""
) -> TestClient:
    """Return a client of an app limited to limit, whose requests come from address."""
    mp.setenv(RATE_LIMIT_ENV, limit)
    return TestClient(create_app(api_key=api_key), client=(address, 50000))


@pytest.mark.parametrize(
    ("text", "per_second", "burst"),
    [
        ("20/s burst 40", 20.0, 40),
        ("20/s", 20.0, 20),
        ("600/m", 10.0, 600),
        ("60/M BURST 5", 1.0, 5),
        ("  5 / s   burst   2 ", 5.0, 2),
        ("1/m", 1 / 60, 1),
    ],
)
def test_a_rate_limit_parses_to_its_rate_and_burst(
    text: str, per_second: float, burst: int
) -> None:
    limit = RateLimit.parse(text)
    assert limit is not None
    assert limit.per_second == pytest.approx(per_second) and limit.burst == burst


@pytest.mark.parametrize("text", ["", "  ", "off", "OFF"])
def test_unset_empty_or_off_means_no_limit(text: str) -> None:
    assert RateLimit.parse(text) is None


@pytest.mark.parametrize(
    "text",
    ["20", "20/h", "0/s", "20/s burst 0", "20/s burst", "fast", "-1/s", "20/s 40", "2.5/s"],
)
def test_a_malformed_rate_limit_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(RateLimitConfigError, match=f"{RATE_LIMIT_ENV}=.*e.g. '20/s burst 40'"):
        RateLimit.parse(text)


def test_buckets_hold_at_most_max_clients() -> None:
    buckets = TokenBuckets(RateLimit(1.0, 5, "1/s burst 5"), max_clients=3, clock=lambda: 0.0)
    for number in range(10):
        buckets.take(f"client {number}")
    assert len(buckets) == 3


def test_a_bucket_idle_until_full_is_forgotten() -> None:
    now = [0.0]
    buckets = TokenBuckets(RateLimit(1.0, 2, "1/s burst 2"), clock=lambda: now[0])
    buckets.take("idle")
    now[0] = 2.0  # two tokens at one a second: full again
    buckets.take("busy")
    assert len(buckets) == 1


def test_tokens_refill_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(RateLimit(2.0, 2, "2/s burst 2"), clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0


def test_create_app_fails_on_a_malformed_limit(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RATE_LIMIT_ENV, "lots")
    with pytest.raises(RateLimitConfigError, match=RATE_LIMIT_ENV):
        create_app(api_key="")


def test_over_the_rate_a_client_gets_429_with_retry_after(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_client(monkeypatch, "1/m burst 3")
    assert [client.get(LIMITED).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(LIMITED)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    retry_after = refused.headers["Retry-After"]
    assert refused.json() == {
        "detail": f"rate limit 1/m burst 3 exceeded; retry in {retry_after} s"
    }


def test_another_address_is_unaffected(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    first = app_client(monkeypatch, "1/m burst 2", address="198.51.100.1")
    for _ in range(3):
        first.get(LIMITED)
    assert first.get(LIMITED).status_code == 429
    other = TestClient(first.app, client=("198.51.100.2", 50000))
    assert other.get(LIMITED).status_code == 200


def test_another_key_at_the_same_address_is_unaffected(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_client(monkeypatch, "1/m burst 2")
    for _ in range(3):
        client.get(LIMITED, headers={"X-API-Key": "first"})
    assert client.get(LIMITED, headers={"X-API-Key": "first"}).status_code == 429
    assert client.get(LIMITED, headers={"Authorization": "Bearer second"}).status_code == 200
    assert client.get(LIMITED).status_code == 200


def test_wrong_keys_count_against_the_address(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_client(monkeypatch, "1/m burst 2", api_key=API_KEY)
    guesses = [client.get(LIMITED, headers={"X-API-Key": f"guess {n}"}) for n in range(3)]
    assert [r.status_code for r in guesses] == [401, 401, 429]
    assert client.get(LIMITED).status_code == 429
    assert client.get(LIMITED, headers={"X-API-Key": API_KEY}).status_code == 200


def test_health_and_metrics_are_never_limited(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_client(monkeypatch, "1/m burst 1")
    client.get(LIMITED)
    assert client.get(LIMITED).status_code == 429
    for _ in range(5):
        assert client.get("/health").status_code != 429
        assert client.head("/health").status_code != 429
        assert client.get("/metrics").status_code == 200
        assert client.get("/static/search.js").status_code == 200


def test_a_client_is_served_again_after_waiting(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_client(monkeypatch, "5/s burst 1")
    assert client.get(LIMITED).status_code == 200
    assert client.get(LIMITED).status_code == 429
    time.sleep(0.25)
    assert client.get(LIMITED).status_code == 200


def test_refusals_are_counted_in_the_request_metric(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app_client(monkeypatch, "1/m burst 1")
    for _ in range(3):
        client.get(LIMITED)
    metrics = client.get("/metrics").text
    assert f'hbi_http_requests_total{{path="{LIMITED}",status="429"}} 2.0' in metrics


@pytest.fixture(scope="module")
def limited_server(stack: LocalStack):
    """A real `hbi serve` on loopback, open, limited to 3 requests at once and 1 a minute."""
    mp = pytest.MonkeyPatch()
    mp.setenv(RATE_LIMIT_ENV, "1/m burst 3")
    served = start_api(free_port())
    mp.undo()
    yield served
    served.stop()


def test_served_api_limits_one_client_and_not_the_others(limited_server) -> None:
    url = limited_server.url + LIMITED
    with httpx.Client(headers={"X-API-Key": "greedy"}, timeout=30) as greedy:
        statuses = [greedy.get(url).status_code for _ in range(5)]
        refused = greedy.get(url)
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["content-type"] == "application/json"
    assert httpx.get(url, headers={"X-API-Key": "patient"}, timeout=30).status_code == 200
    # uvicorn trusts X-Forwarded-For from loopback, as from a proxy there: another address.
    assert httpx.get(url, headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200
    for _ in range(10):
        assert httpx.get(limited_server.url + "/health", timeout=30).status_code != 429


def test_serve_refuses_to_start_with_a_malformed_limit(stack: LocalStack) -> None:
    env = {**os.environ, RATE_LIMIT_ENV: "20 per second"}
    done = subprocess.run(
        [HBI, "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"{RATE_LIMIT_ENV}='20 per second' is not a rate limit" in done.stderr
