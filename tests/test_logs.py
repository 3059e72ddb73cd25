"""HBI_LOG_FORMAT=json: every line the API, the CLI and a Dagster run log is JSON; text as ever."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from fastapi.testclient import TestClient

from hbi.api import create_app
from hbi.logs import LOG_FORMAT_ENV, JsonFormatter, LogFormatError, log_format
from hbi.stack import LocalStack
from hbi.stack.process import free_port
from tests.api_clients import HBI

pytestmark = pytest.mark.integration

ALICE = "lewis-carroll_alices-adventures-in-wonderland.txt"
API_KEY = "log-test-key"
REQUEST_FIELDS = {"request_id", "method", "route", "status", "latency_ms", "client"}


@dataclass
class Served:
    """An `hbi serve` process with its stdout and stderr in files."""

    process: subprocess.Popen
    url: str
    stdout: IO[str]
    stderr: IO[str]

    def stop(self) -> tuple[list[str], list[str]]:
        """Stop the server; return its stdout and stderr lines."""
        self.process.terminate()
        self.process.wait(30)
        lines = []
        for stream in (self.stdout, self.stderr):
            stream.seek(0)
            lines.append(stream.read().splitlines())
        return lines[0], lines[1]


def serve(log_format_value: str | None) -> Served:
    """Start `hbi serve` on loopback with the API key and the given HBI_LOG_FORMAT."""
    env = {**os.environ, "HBI_API_KEY": API_KEY}
    env.pop(LOG_FORMAT_ENV, None)
    if log_format_value is not None:
        env[LOG_FORMAT_ENV] = log_format_value
    port = free_port()
    stdout, stderr = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # noqa: SIM115
    process = subprocess.Popen(
        [HBI, "serve", "--port", str(port)], env=env, stdout=stdout, stderr=stderr
    )
    served = Served(process, f"http://127.0.0.1:{port}", stdout, stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "hbi serve exited"
        try:
            httpx.get(served.url + "/health", timeout=30)
            return served
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError("hbi serve did not answer")


def send_mixed_requests(url: str) -> None:
    """Send a search, a book, a 404, a 401, a HEAD, a request with an id and an invalid one."""
    key = {"X-API-Key": API_KEY}
    assert httpx.get(f"{url}/search", params={"q": "rabbit"}, headers=key, timeout=120).is_success
    assert httpx.get(f"{url}/books/{ALICE}", headers=key, timeout=30).status_code == 200
    assert httpx.get(f"{url}/books/no-such-book", headers=key, timeout=30).status_code == 404
    assert httpx.get(f"{url}/books", timeout=30).status_code == 401
    assert httpx.head(f"{url}/health", timeout=30).status_code in (200, 503)
    given = httpx.get(f"{url}/books", headers={**key, "X-Request-Id": "trace-42"}, timeout=30)
    assert given.headers["X-Request-Id"] == "trace-42"
    # Not HTTP at all: uvicorn logs a warning of its own.
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as raw:
        raw.sendall(b"NOT HTTP\r\n\r\n")
        raw.recv(4096)


@pytest.fixture(scope="module")
def json_served(ingested) -> Iterator[tuple[list[str], list[str]]]:
    """The stdout and stderr lines of a JSON-mode `hbi serve` after mixed requests."""
    served = serve("json")
    try:
        send_mixed_requests(served.url)
        time.sleep(0.5)
    finally:
        lines = served.stop()
    yield lines


def parsed(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines if line.strip()]


def test_served_api_writes_nothing_but_json_lines(json_served) -> None:
    stdout, stderr = json_served
    for line in stdout + stderr:
        assert isinstance(json.loads(line), dict), line


def test_every_request_has_a_json_line_with_its_fields(json_served) -> None:
    records = [r for r in parsed(json_served[1]) if r["logger"] == "hbi.api.requests"]
    assert all(set(r) >= REQUEST_FIELDS for r in records)
    by_route = {(r["method"], r["route"], r["status"]): r for r in records}
    search = by_route[("GET", "/search", 200)]
    assert search["client"] == "127.0.0.1" and search["latency_ms"] > 0
    assert by_route[("GET", "/books/{book_id}", 200)]["book_id"] == ALICE
    assert by_route[("GET", "/books/{book_id}", 404)]["book_id"] == "no-such-book"
    assert ("GET", "/books", 401) in by_route
    assert any(method == "HEAD" and route == "/health" for method, route, _ in by_route)
    assert "trace-42" in {r["request_id"] for r in records}
    assert len({r["request_id"] for r in records}) == len(records)


def test_uvicorn_and_the_banner_log_json_too(json_served) -> None:
    records = parsed(json_served[1])
    loggers = {r["logger"]: r for r in records}
    assert loggers["uvicorn.error"]["message"] == "Invalid HTTP request received."
    assert loggers["uvicorn.error"]["level"] == "warning"
    assert loggers["hbi.cli"]["message"].startswith("HBI API on http://127.0.0.1:")
    assert json_served[0] == []


def test_text_mode_prints_what_it_always_did(ingested) -> None:
    served = serve(None)
    send_mixed_requests(served.url)
    stdout, stderr = served.stop()
    port = served.url.rsplit(":", 1)[1]
    assert stdout == [f"HBI API on http://127.0.0.1:{port} (API key required); docs at /docs"]
    assert not any(line.startswith("{") for line in stderr)
    assert any(line.endswith("Invalid HTTP request received.") for line in stderr)


def test_a_request_gets_an_id_of_its_own_or_keeps_a_well_formed_one(stack: LocalStack) -> None:
    client = TestClient(create_app(api_key=""))
    made = client.get("/books").headers["X-Request-Id"]
    assert len(made) == 32 and int(made, 16) >= 0
    assert (
        client.get("/books", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    hostile = client.get("/books", headers={"X-Request-Id": 'x" \\n{"level": "error"'})
    assert hostile.headers["X-Request-Id"] != 'x" \\n{"level": "error"'


def run_cli(*args: str, log_format_value: str | None = "json") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != LOG_FORMAT_ENV}
    if log_format_value is not None:
        env[LOG_FORMAT_ENV] = log_format_value
    return subprocess.run([HBI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_a_cli_error_is_a_json_line(stack: LocalStack) -> None:
    done = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2 and done.stdout == ""
    (record,) = parsed(done.stderr.splitlines())
    assert record["level"] == "error" and record["logger"] == "hbi.cli"
    assert record["exit_code"] == 2 and "--allow-open" in record["message"]


def test_a_cli_error_in_text_mode_is_clicks_own(stack: LocalStack) -> None:
    done = run_cli("serve", "--host", "0.0.0.0", log_format_value=None)
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: hbi serve") and "Error: --host 0.0.0.0" in done.stderr


def test_a_malformed_log_format_stops_the_cli_naming_the_variable() -> None:
    done = run_cli("books", log_format_value="yaml")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Error: {LOG_FORMAT_ENV}='yaml' is not a log format: expected one of text, json"
    )


DAGSTER_RUN = textwrap.dedent(
    """
    import logging

    import dagster as dg

    from hbi.cli.books import QUIET_RUN_CONFIG
    from hbi_assets.definitions import RUN_LOGGERS, defs
    from hbi_assets.run_logs import with_run_loggers

    assert defs.resolve_job_def("ingest_book").loggers["console"] is dg.json_console_logger

    @dg.asset
    def tiny(context: dg.AssetExecutionContext) -> int:
        context.log.info("tiny asset ran")
        logging.getLogger("hbi.tiny").warning("a record of HBI's", extra={"book_id": "b1"})
        return 1

    tiny_defs = dg.Definitions(
        assets=[tiny], jobs=[dg.define_asset_job("tiny_job")], loggers=RUN_LOGGERS
    )
    # The CLI's run config at INFO, so the run's own lines show too.
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    assert QUIET_RUN_CONFIG.keys() == run_config.keys()
    assert tiny_defs.resolve_job_def("tiny_job").execute_in_process(run_config=run_config).success
    # The config the sensor's and the schedules' run requests carry.
    assert with_run_loggers({"ops": {}}) == {"ops": {}, "loggers": {"console": {}}}
    assert tiny_defs.resolve_job_def("tiny_job").execute_in_process(
        run_config=with_run_loggers()
    ).success
    """
)


def test_a_dagster_run_logs_json_lines(tmp_path: Path) -> None:
    env = {**os.environ, LOG_FORMAT_ENV: "json", "HBI_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", DAGSTER_RUN], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    records = parsed(done.stderr.splitlines())
    run_lines = [r for r in records if r.get("name") == "dagster"]
    ran = [r for r in run_lines if r["dagster_meta"]["orig_message"] == "tiny asset ran"]
    assert len(ran) == 2
    assert {"logger": "hbi.tiny", "book_id": "b1"}.items() <= next(
        r for r in records if r.get("logger") == "hbi.tiny"
    ).items()


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "text"), ("", "text"), ("text", "text"), (" JSON ", "json")]
)
def test_log_format_reads_the_variable(value: str | None, expected: str) -> None:
    environ = {} if value is None else {LOG_FORMAT_ENV: value}
    assert log_format(environ) == expected


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(LogFormatError, match=f"{LOG_FORMAT_ENV}='yaml'"):
        log_format({LOG_FORMAT_ENV: "yaml"})


def test_a_record_with_an_exception_and_fields_is_one_json_line() -> None:
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        record = logging.getLogger("hbi.test").makeRecord(
            "hbi.test", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info(),
            extra={"book_id": "b1", "path": Path("/tmp/x")},
        )  # fmt: skip
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed here" and entry["level"] == "error"
    assert entry["book_id"] == "b1" and entry["path"] == "/tmp/x"
    assert entry["exception"].endswith("ValueError: broken\nacross lines")


def test_run_configs_name_no_logger_in_text_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from hbi_assets.run_logs import with_run_loggers

    monkeypatch.delenv(LOG_FORMAT_ENV, raising=False)
    assert with_run_loggers({"ops": {"x": {}}}) == {"ops": {"x": {}}}
    assert with_run_loggers() == {}


def test_book_run_reports_are_records_with_fields_in_json_mode(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from hbi.cli.books import _report_runs

    monkeypatch.setenv(LOG_FORMAT_ENV, "json")
    caplog.set_level(logging.INFO)
    outcome = {"book_id": "a.pdf", "success": False, "seconds": 1.5, "run_id": "r" * 36}
    with pytest.raises(SystemExit):
        _report_runs([{**outcome, "errors": ["book_bundle: a.pdf: corrupt file"]}], as_json=False)
    record = next(r for r in caplog.records if getattr(r, "book_id", None) == "a.pdf")
    assert record.levelno == logging.ERROR and record.getMessage() == "FAILED a.pdf"
    assert record.errors == ["book_bundle: a.pdf: corrupt file"] and record.run_id == "r" * 36
