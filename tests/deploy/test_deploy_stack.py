"""On a machine with a Docker engine: build the image, start the stack, back it up and restore it.

Marked `docker`, so the default run (and CI, which has no engine) deselects them; run them with
`pytest -m docker` where an engine exists, and they fail if none answers. They build for minutes and
use the stack's fixed volume and network names, so they refuse to run on an engine that already
hosts an HBI deployment rather than touch it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_files import DEPLOY_DIR, env_example, pyproject, run_compose, write_env_file

from hbi.stack.process import free_port
from hbi_assets.partitions import books_partitions

FIXED_NAMES = ("hbi_net", "hbi_data", "hbi_dagster_storage", "hbi_postgres_data")
BUILD_TIMEOUT = 1800
HEALTHY_TIMEOUT = 600
LOCATION_QUERY = (
    '{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus '
    'locationOrLoadError { __typename } } } } }"}'
)


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return _docker("info").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _socket_group() -> int:
    socket = Path("/var/run/docker.sock")
    return socket.stat().st_gid if socket.exists() else 0


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """An env file for a throwaway stack: random secrets, free ports, its own image tag."""
    if not _engine_answers():
        pytest.fail("no Docker engine answers `docker info`; run `-m docker` where one exists")
    taken = [n for n in FIXED_NAMES if _docker("inspect", n).returncode == 0]
    if taken:
        pytest.fail(f"this Docker engine already has {taken}: an HBI deployment; not touching it")
    values = env_example() | {
        "COMPOSE_PROJECT_NAME": "hbi-test",
        "HBI_IMAGE": f"hbi-test:{pyproject()['project']['version']}",
        "DAGSTER_POSTGRES_PASSWORD": secrets.token_hex(16),
        "HBI_MINIO_ACCESS_KEY": "hbi-test",
        "HBI_MINIO_SECRET_KEY": secrets.token_hex(16),
        "HBI_NEO4J_PASSWORD": secrets.token_hex(16),
        "HBI_DOCKER_GID": str(_socket_group()),
        "HBI_PUBLISH_UI_PORT": str(free_port()),
        "HBI_PUBLISH_API_PORT": str(free_port()),
        "HBI_PUBLISH_CONSOLE_PORT": str(free_port()),
    }
    env_file = write_env_file(tmp_path_factory.mktemp("stack") / "stack.env", values)
    try:
        yield env_file, values
    finally:
        run_compose(env_file, "down", "--volumes", "--remove-orphans", timeout=300)
        _docker("image", "rm", "-f", values["HBI_IMAGE"])


def _services_to_start() -> list[str]:
    services = ["postgres", "minio", "neo4j", "hbi-init", "hbi-code"]
    return [*services, "dagster-webserver", "dagster-daemon", "hbi-api"]


def _health(env_file: Path, service: str) -> str:
    ids = run_compose(env_file, "ps", "-q", service).stdout.split()
    if not ids:
        return "missing"
    state = json.loads(_docker("inspect", "--format", "{{json .State}}", ids[0]).stdout)
    return state.get("Health", {}).get("Status", state.get("Status", "unknown"))


def _wait_until_healthy(env_file: Path) -> None:
    waiting = [s for s in _services_to_start() if s != "hbi-init"]
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while waiting and time.monotonic() < deadline:
        waiting = [s for s in waiting if _health(env_file, s) != "healthy"]
        time.sleep(5)
    logs = run_compose(env_file, "logs", "--tail", "40").stdout if waiting else ""
    assert not waiting, f"not healthy after {HEALTHY_TIMEOUT}s: {waiting}\n{logs[-8000:]}"


def _code_locations(ui_port: str) -> list[tuple[str, str]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{ui_port}/graphql",
        data=LOCATION_QUERY.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    return [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries]


def _in_code_server(env_file: Path, code: str) -> str:
    result = run_compose(env_file, "exec", "-T", "hbi-code", "python", "-c", code, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def _books(env_file: Path) -> list[str]:
    code = (
        "import dagster as dg; i = dg.DagsterInstance.get(); "
        f"print(','.join(i.get_dynamic_partitions({books_partitions.name!r})))"
    )
    return [b for b in _in_code_server(env_file, code).split(",") if b]


def _set_books(env_file: Path, add: list[str], delete: list[str]) -> None:
    code = (
        "import dagster as dg; i = dg.DagsterInstance.get(); "
        f"i.add_dynamic_partitions({books_partitions.name!r}, {add!r}); "
        f"[i.delete_dynamic_partition({books_partitions.name!r}, b) for b in {delete!r}]"
    )
    _in_code_server(env_file, code)


@pytest.fixture(scope="module")
def running_stack(stack_env: tuple[Path, dict[str, str]]) -> tuple[Path, dict[str, str]]:
    """The stack built from this checkout and started, every service healthy."""
    env_file, _ = stack_env
    built = run_compose(env_file, "build", "hbi-code", timeout=BUILD_TIMEOUT)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    started = run_compose(env_file, "up", "-d", *_services_to_start(), timeout=HEALTHY_TIMEOUT)
    assert started.returncode == 0, started.stdout[-4000:] + started.stderr[-4000:]
    _wait_until_healthy(env_file)
    return stack_env


@pytest.mark.docker
def test_stack_becomes_healthy_and_serves_the_code_location(
    running_stack: tuple[Path, dict[str, str]],
) -> None:
    _, values = running_stack
    assert _code_locations(values["HBI_PUBLISH_UI_PORT"]) == [("hbi", "RepositoryLocation")]


@pytest.mark.docker
def test_restore_brings_back_what_the_backup_saw(
    running_stack: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    env_file, values = running_stack
    scripts_env = {**os.environ, "HBI_ENV_FILE": str(env_file), "HBI_DRAIN_TIMEOUT": "600"}
    _set_books(env_file, add=["backed-up-book"], delete=[])

    backup = subprocess.run(
        [str(DEPLOY_DIR / "backup.sh"), str(tmp_path / "backup")],
        capture_output=True,
        text=True,
        env=scripts_env,
        timeout=HEALTHY_TIMEOUT,
    )
    assert backup.returncode == 0, backup.stdout + backup.stderr
    _wait_until_healthy(env_file)
    _set_books(env_file, add=["book-after-backup"], delete=["backed-up-book"])

    restore = subprocess.run(
        [str(DEPLOY_DIR / "restore.sh"), "--yes", str(tmp_path / "backup")],
        capture_output=True,
        text=True,
        env=scripts_env,
        timeout=HEALTHY_TIMEOUT,
    )
    assert restore.returncode == 0, restore.stdout + restore.stderr
    _wait_until_healthy(env_file)
    assert _books(env_file) == ["backed-up-book"]
    assert _code_locations(values["HBI_PUBLISH_UI_PORT"]) == [("hbi", "RepositoryLocation")]
