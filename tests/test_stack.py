"""The local stack runs real servers: S3 and Bolt round trips, idempotent up, restarts keep data."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from hbi.cli import cli
from hbi.stack import LocalStack
from hbi.stack.provision import minio_install, neo4j_install
from hbi_resources.graph import GraphResource
from hbi_resources.object_store import ObjectStoreResource
from tests.conftest import start_test_stack

pytestmark = pytest.mark.integration


def test_object_round_trips_over_s3(object_store: ObjectStoreResource) -> None:
    key = f"probe/{uuid.uuid4()}.txt"
    etag = object_store.put_bytes(object_store.books_bucket, key, b"hello books", "text/plain")
    assert etag
    assert object_store.get_bytes(object_store.books_bucket, key) == b"hello books"
    listed = [o.object_name for o in object_store.list_objects(object_store.books_bucket, "probe/")]
    assert key in listed


def test_node_round_trips_over_bolt(graph: GraphResource) -> None:
    marker = str(uuid.uuid4())
    with graph.driver() as driver:
        driver.execute_query("CREATE (:Probe {marker: $m})", m=marker, database_=graph.database)
        records, _, _ = driver.execute_query(
            "MATCH (p:Probe {marker: $m}) RETURN count(p) AS n", m=marker, database_=graph.database
        )
    assert records[0]["n"] == 1


def test_health_checks_report_both_servers(
    object_store: ObjectStoreResource, graph: GraphResource
) -> None:
    minio = object_store.health()
    neo = graph.health()
    assert minio.ok, minio.detail
    assert neo.ok, neo.detail
    assert neo.version and neo.version.startswith("5.26")


def test_health_check_reports_an_unreachable_server(stack: LocalStack) -> None:
    dead = GraphResource(uri="bolt://127.0.0.1:1", password="x").health()
    assert not dead.ok and dead.detail


def test_second_up_reuses_running_servers(stack: LocalStack) -> None:
    before = {s.name: s.pid for s in stack.status()}
    after = {s.name: s.pid for s in LocalStack(stack.layout.root).up()}
    assert before == after
    assert all(after.values())


def test_status_and_env_commands_describe_the_stack(stack: LocalStack) -> None:
    runner = CliRunner()
    status = runner.invoke(cli, ["stack", "status", "--json"])
    assert status.exit_code == 0, status.output
    servers = {s["name"]: s for s in json.loads(status.output)["servers"]}
    assert servers["minio"]["state"] == "running" and servers["minio"]["answers"]
    assert servers["neo4j"]["version"].startswith("5.26")
    assert servers["minio"]["data_dir"].startswith(str(stack.layout.root))
    env = runner.invoke(cli, ["stack", "env"])
    assert env.exit_code == 0
    exports = dict(line.removeprefix("export ").split("=", 1) for line in env.output.splitlines())
    assert exports["HBI_MINIO_ENDPOINT"] == stack.minio.endpoint
    assert exports["HBI_NEO4J_URI"] == stack.neo4j.uri
    assert exports["HBI_BOOKS_BUCKET"] == "books"


def test_credentials_are_random_and_private(stack: LocalStack) -> None:
    assert stack.state_file.stat().st_mode & 0o077 == 0
    assert stack.layout.stack_env_file.stat().st_mode & 0o077 == 0
    assert stack.neo4j.password != "neo4j" and len(stack.neo4j.password) >= 20
    assert stack.minio.secret_key not in ("minioadmin", "")


def test_restart_reuses_cache_and_keeps_data(
    stack: LocalStack, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = minio_install().binary
    jars = neo4j_install().lib_dir
    built_at = (binary.stat().st_mtime, jars.stat().st_mtime)
    second = start_test_stack(tmp_path / "home", monkeypatch)
    try:
        for key, value in second.env().items():
            monkeypatch.setenv(key, value)
        store = ObjectStoreResource.from_env()
        store.ensure_buckets()
        store.put_bytes(store.books_bucket, "kept.txt", b"kept", "text/plain")
        graph = GraphResource.from_env()
        with graph.driver() as driver:
            driver.execute_query("CREATE (:Kept {v: 1})", database_=graph.database)
        assert set(second.down()) == {"minio", "neo4j"}
        assert {s.state for s in second.status(with_versions=False)} == {"stopped"}
        second.up()
        assert store.get_bytes(store.books_bucket, "kept.txt") == b"kept"
        with graph.driver() as driver:
            records, _, _ = driver.execute_query("MATCH (k:Kept) RETURN count(k) AS n")
        assert records[0]["n"] == 1
        assert (binary.stat().st_mtime, jars.stat().st_mtime) == built_at
    finally:
        second.down()


def test_servers_listen_on_loopback_only(stack: LocalStack) -> None:
    conf = (stack.neo4j.conf_dir / "neo4j.conf").read_text()
    assert "server.default_listen_address=127.0.0.1" in conf
    cmdline = Path(f"/proc/{stack.minio.pid()}/cmdline").read_text().split("\0")
    assert cmdline[cmdline.index("--address") + 1].startswith("127.0.0.1:")
    assert os.environ["HBI_MINIO_ENDPOINT"].startswith("127.0.0.1:")


def test_neo4j_password_never_reaches_a_command_line(tmp_path) -> None:
    # Quotes, a backslash and a '#' survive the argument file the password is handed over in.
    from hbi.stack.neo4j_server import Neo4jServer
    from hbi.stack.process import free_port

    password = 'pass "word" \\ #' + uuid.uuid4().hex
    server = Neo4jServer(tmp_path / "neo4j", free_port(), password, heap="256m", page_cache="64m")
    try:
        assert server.start().startswith("5.26")
        assert not list(server.root.glob("*.args"))
        graph = GraphResource(uri=server.uri, password=password)
        with graph.driver() as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS one")
        assert records[0]["one"] == 1
    finally:
        server.stop()
