"""On a real Docker engine: the stack starts, a book flows through it, backups restore, and it goes.

Marked `docker`: `.ci/run` runs them after the main suite (`pytest -m docker tests/deploy`), on
the images deploy/local-images.sh builds. They take minutes, and use the stack's fixed volume and
network names, so they refuse to run on an engine that already hosts an HBI deployment.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_files import DEPLOY_DIR, REPO_ROOT
from stack import HEALTHY_TIMEOUT, RUN_WORKER, Stack, build_images, docker, require_engine

from hbi_assets.partitions import books_partitions

BOOK = REPO_ROOT.parent / "shared" / "corpus" / "sun-tzu_the-art-of-war.md"
QUERY = "supreme excellence consists in breaking the resistance without fighting"
LOCATION_QUERY = (
    '{"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus '
    'locationOrLoadError { __typename } } } } }"}'
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack built from this checkout and started, every service healthy."""
    require_engine()
    running = Stack.create(tmp_path_factory.mktemp("stack"), "hbi-test")
    build_images(running.values["HBI_IMAGE"])
    try:
        running.up()
        yield running
    finally:
        running.down()


def _code_locations(ui_port: str) -> list[tuple[str, str]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{ui_port}/graphql",
        data=LOCATION_QUERY.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    return [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries]


def _books(stack: Stack) -> list[str]:
    code = (
        "import dagster as dg; i = dg.DagsterInstance.get(); "
        f"print(','.join(i.get_dynamic_partitions({books_partitions.name!r})))"
    )
    return [b for b in stack.in_code_server(code).split(",") if b]


def _set_books(stack: Stack, add: list[str], delete: list[str]) -> None:
    stack.in_code_server(
        "import dagster as dg; i = dg.DagsterInstance.get(); "
        f"i.add_dynamic_partitions({books_partitions.name!r}, {add!r}); "
        f"[i.delete_dynamic_partition({books_partitions.name!r}, b) for b in {delete!r}]"
    )


def _script(stack: Stack, *args: str) -> None:
    result = subprocess.run(
        [str(DEPLOY_DIR / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=stack.scripts_env(),
        timeout=HEALTHY_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


@pytest.mark.docker
def test_stack_becomes_healthy_and_serves_the_code_location(stack: Stack) -> None:
    assert _code_locations(stack.values["HBI_PUBLISH_UI_PORT"]) == [("hbi", "RepositoryLocation")]


@pytest.mark.docker
def test_uploaded_book_is_run_in_its_own_container_and_found_by_the_api(stack: Stack) -> None:
    stack.client("upload", f"/books/{BOOK.name}", mounts=(f"{BOOK.parent}:/books:ro",))
    deadline = time.monotonic() + 120
    launched = ""
    while not launched and time.monotonic() < deadline:
        launched = docker(
            "ps", "-a", "--filter", RUN_WORKER, "--filter", "label=dagster/job_name=ingest_book",
            "--format", '{{.Label "dagster/run_id"}}',
        ).stdout.strip()  # fmt: skip
        time.sleep(1)
    assert launched, "the books sensor launched no ingest_book run container within 120s"
    hits = stack.client("search", QUERY, BOOK.name, timeout=300)
    assert f"{BOOK.name} |" in hits


@pytest.mark.docker
def test_restore_brings_back_what_the_backup_saw(stack: Stack, tmp_path: Path) -> None:
    # restore.sh used to hang on Compose 1.29 at `up --no-start` (waiting for hbi-init).
    _set_books(stack, add=["backed-up-book"], delete=[])
    _script(stack, "backup.sh", str(tmp_path / "backup"))
    stack.wait_healthy()
    _set_books(stack, add=["book-after-backup"], delete=["backed-up-book"])

    _script(stack, "restore.sh", "--yes", str(tmp_path / "backup"))
    stack.wait_healthy()
    assert "backed-up-book" in _books(stack) and "book-after-backup" not in _books(stack)
    assert _code_locations(stack.values["HBI_PUBLISH_UI_PORT"]) == [("hbi", "RepositoryLocation")]


@pytest.mark.docker
def test_stack_goes_with_its_volumes_after_runs(stack: Stack) -> None:
    # Run containers kept after their runs held the volumes, and `down -v` failed.
    assert stack.compose("stop", "dagster-daemon").returncode == 0
    deadline = time.monotonic() + HEALTHY_TIMEOUT
    while docker("ps", "-q", "--filter", RUN_WORKER).stdout.split():
        assert time.monotonic() < deadline, "runs still running"
        time.sleep(2)
    assert stack.compose("stop").returncode == 0
    removed = stack.compose("down", "--volumes")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    left = docker("volume", "ls", "-q", "--filter", "name=hbi_").stdout.split()
    assert left == []
