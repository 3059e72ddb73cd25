"""deploy/dagster.yaml and deploy/workspace.yaml: valid for Dagster and wired to the compose stack.

Validation uses Dagster's own machinery: the instance-config schema, each configurable class's
config schema, and a DagsterInstance built from the file (with its Postgres storage swapped for
SQLite in a temporary folder, since no Postgres runs here).
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster_docker import DockerRunLauncher
from deploy_files import DAGSTER_YAML, DEPLOY_DIR, WORKSPACE_YAML, load_yaml, service_mounts

from hbi import config
from hbi.stack.dagster_home import INSTANCE_YAML

POSTGRES_VARIABLES = ("DAGSTER_POSTGRES_USER", "DAGSTER_POSTGRES_PASSWORD", "DAGSTER_POSTGRES_DB")
# Every variable HBI's resources and index read (hbi/config.py, hbi/index/db.py).
HBI_VARIABLES = (
    "HBI_HOME",
    "HBI_INDEX_PATH",
    config.ENV_MINIO_ENDPOINT,
    config.ENV_MINIO_ACCESS_KEY,
    config.ENV_MINIO_SECRET_KEY,
    config.ENV_MINIO_SECURE,
    config.ENV_BOOKS_BUCKET,
    config.ENV_BACKUPS_BUCKET,
    config.ENV_NEO4J_URI,
    config.ENV_NEO4J_USER,
    config.ENV_NEO4J_PASSWORD,
    config.ENV_NEO4J_DATABASE,
)


@pytest.fixture
def postgres_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables dagster.yaml's `env:` sources read, as the containers have them."""
    for name in POSTGRES_VARIABLES:
        monkeypatch.setenv(name, f"test-{name.lower()}")


@pytest.fixture
def deploy_ref(postgres_env: None, tmp_path: Path) -> InstanceRef:
    """The InstanceRef Dagster builds from deploy/dagster.yaml."""
    return InstanceRef.from_dir(str(tmp_path), config_dir=str(DEPLOY_DIR))


@pytest.fixture
def deploy_instance(deploy_ref: InstanceRef, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A DagsterInstance of deploy/dagster.yaml, storing in SQLite under tmp_path."""
    local = InstanceRef.from_dir(str(tmp_path), config_dir=str(tmp_path))
    ref = deploy_ref._replace(
        storage_data=local.storage_data,
        run_storage_data=local.run_storage_data,
        event_storage_data=local.event_storage_data,
        schedule_storage_data=local.schedule_storage_data,
        local_artifact_storage_data=local.local_artifact_storage_data,
        compute_logs_data=local.compute_logs_data,
    )
    instance = dg.DagsterInstance.from_ref(ref)
    try:
        yield instance
    finally:
        instance.dispose()


def _instance_yaml() -> dict[str, Any]:
    return load_yaml(DAGSTER_YAML)


def _launcher_config() -> dict[str, Any]:
    return _instance_yaml()["run_launcher"]["config"]


def test_dagster_yaml_passes_dagsters_instance_schema(postgres_env: None) -> None:
    value, custom_class = dagster_instance_config(str(DEPLOY_DIR))
    assert custom_class is None
    assert set(value) >= {"storage", "run_coordinator", "run_launcher", "run_monitoring"}


def test_every_configured_class_accepts_its_config(deploy_ref: InstanceRef) -> None:
    classes = {
        "storage": deploy_ref.storage_data,
        "local_artifact_storage": deploy_ref.local_artifact_storage_data,
        "compute_logs": deploy_ref.compute_logs_data,
        "scheduler": deploy_ref.scheduler_data,
        "run_coordinator": deploy_ref.run_coordinator_data,
        "run_launcher": deploy_ref.run_launcher_data,
    }
    for field, data in classes.items():
        klass = getattr(importlib.import_module(data.module_name), data.class_name)
        result = process_config(klass.config_type(), yaml.safe_load(data.config_yaml) or {})
        assert result.success, f"{field}: {[e.message for e in result.errors or []]}"


def test_storage_is_postgres(deploy_ref: InstanceRef) -> None:
    assert deploy_ref.storage_data.module_name == "dagster_postgres"
    assert deploy_ref.storage_data.class_name == "DagsterPostgresStorage"


def test_instance_loads_with_the_queue_and_the_docker_launcher(
    deploy_instance: dg.DagsterInstance,
) -> None:
    assert isinstance(deploy_instance.run_coordinator, dg.QueuedRunCoordinator)
    assert isinstance(deploy_instance.run_launcher, DockerRunLauncher)
    assert deploy_instance.run_launcher.networks == ["hbi_net"]


def test_instance_limits_concurrent_runs(deploy_instance: dg.DagsterInstance) -> None:
    queue = deploy_instance.get_concurrency_config().run_queue_config
    assert queue is not None and queue.max_concurrent_runs >= 1


def test_instance_monitors_runs(deploy_instance: dg.DagsterInstance) -> None:
    assert deploy_instance.run_monitoring_enabled
    assert deploy_instance.run_launcher.supports_check_run_worker_health


def test_writer_pools_match_the_local_instance(deploy_instance: dg.DagsterInstance) -> None:
    local = yaml.safe_load(INSTANCE_YAML)["concurrency"]["pools"]
    assert _instance_yaml()["concurrency"]["pools"] == local
    pools = deploy_instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == local["default_limit"]
    assert pools.pool_granularity is not None
    assert pools.pool_granularity.value == local["granularity"]


def test_postgres_is_the_compose_service_with_the_compose_credentials(services: dict) -> None:
    postgres_db = _instance_yaml()["storage"]["postgres"]["postgres_db"]
    assert postgres_db["hostname"] in services
    sources = {postgres_db[key]["env"] for key in ("username", "password", "db_name")}
    assert sources == set(POSTGRES_VARIABLES)
    for name in ("hbi-init", "hbi-code", "dagster-webserver", "dagster-daemon"):
        assert sources <= set(services[name]["environment"]), name


def test_run_launcher_forwards_everything_a_run_reads(services: dict) -> None:
    forwarded = set(_launcher_config()["env_vars"])
    assert forwarded >= set(HBI_VARIABLES) | set(POSTGRES_VARIABLES)
    # The launcher copies them from the daemon's environment.
    assert forwarded <= set(services["dagster-daemon"]["environment"])


def test_runs_join_the_compose_network(compose: dict) -> None:
    networks = {network["name"] for network in compose["networks"].values()}
    assert _launcher_config()["network"] in networks


def test_runs_mount_no_volume_of_the_index_writers(compose: dict, services: dict) -> None:
    # Runs need only the network services; the API's index and the code server's HBI_HOME stay
    # off them, so runs can spread over hosts.
    volume_names = {key: volume["name"] for key, volume in compose["volumes"].items()}
    mounted = {volume.split(":")[0] for volume in _launcher_config()["container_kwargs"]["volumes"]}
    for name in ("hbi-api", "hbi-code"):
        home = services[name]["environment"]["HBI_HOME"]
        (source,) = (m.source for m in service_mounts(services[name]) if m.target == home)
        assert volume_names[source] not in mounted, name
    assert mounted == {volume_names["dagster-storage"]}


def test_finished_run_containers_are_removed(deploy_instance: dg.DagsterInstance) -> None:
    # A kept run container holds the volumes it mounts, and `docker compose down -v` then fails.
    launcher = deploy_instance.run_launcher
    assert isinstance(launcher, DockerRunLauncher)
    assert launcher.container_kwargs["auto_remove"] is True


def test_postgres_url_names_a_driver_the_image_installs(postgres_env: None) -> None:
    # SQLAlchemy 2.1 reads a plain postgresql:// as psycopg 3, which dagster-postgres does not
    # install: `dagster instance migrate` failed with ModuleNotFoundError. Creating the engine
    # imports the driver the URL names, without connecting.
    from dagster_postgres.utils import pg_url_from_config
    from sqlalchemy import create_engine

    postgres_db = _instance_yaml()["storage"]["postgres"]["postgres_db"]
    resolved = {
        key: os.environ[value["env"]] if isinstance(value, dict) else value
        for key, value in postgres_db.items()
    }
    url = pg_url_from_config({"postgres_db": resolved})
    create_engine(url).dispose()
    lock = (DEPLOY_DIR.parent / "requirements" / "runtime.lock").read_text()
    driver = url.split("://", 1)[0].partition("+")[2]
    assert driver and re.search(rf"^{driver}(-binary)?==", lock, re.M), url


def test_workspace_passes_dagsters_workspace_schema() -> None:
    ensure_workspace_config(load_yaml(WORKSPACE_YAML), str(WORKSPACE_YAML))


def test_workspace_points_at_the_code_server_service(services: dict) -> None:
    (entry,) = load_yaml(WORKSPACE_YAML)["load_from"]
    server = entry["grpc_server"]
    assert server["host"] in services
    check = services[server["host"]]["healthcheck"]["test"]
    assert check[-2:] == ["-p", str(server["port"])]
