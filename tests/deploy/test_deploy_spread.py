"""On a real Docker engine: book runs spread over run containers that share no volume with the
index writer, and the API answers for every book.

The 8 corpus books are put into the books bucket at once, with `max_concurrent_runs` as shipped
(4); with `-m 'docker and benchmark'`, then again on a fresh stack whose daemon starts one run at a
time, and the test prints both times, the speedup, and what it would be on N machines (CI leaves
the baseline out for time; deploy/README.md has its figures). Marked `docker` (see
test_deploy_stack).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from deploy_files import DAGSTER_YAML, REPO_ROOT
from stack import Stack, build_images, docker, require_engine, run_workers

CORPUS = REPO_ROOT.parent / "shared" / "corpus"
BOOKS = sorted(
    p
    for p in CORPUS.iterdir()
    if p.suffix in (".pdf", ".epub", ".txt", ".md") and not p.name.startswith("MANIFEST")
)
INGEST_TIMEOUT = 1200
RUN_TIMES = """
import dagster as dg
records = dg.DagsterInstance.get().get_run_records(dg.RunsFilter(job_name="ingest_book"))
print(sorted(r.end_time - r.start_time for r in records if r.end_time and r.start_time))
"""


@dataclass(frozen=True)
class Ingest:
    """What one ingest of the corpus through the stack showed."""

    seconds: float  # from the upload until the API lists every book
    most_running: int  # run containers running at once, at most
    workers: dict[str, dict]  # every ingest_book run container seen, by id
    run_seconds: list[float]  # each run's own time, as Dagster recorded it
    load: float  # the host's 1-minute load average at the end: other work skews the times


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The HBI image, with the stand-in images, built from this checkout."""
    require_engine()
    tag = "hbi-spread:0.1.0"
    build_images(tag)
    return tag


def _listed_books(stack: Stack) -> int:
    url = f"http://127.0.0.1:{stack.values['HBI_PUBLISH_API_PORT']}/books"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return len(json.load(response))
    except OSError:
        return -1


def _ingest_corpus(stack: Stack) -> Ingest:
    stack.client(
        "upload", *(f"/books/{book.name}" for book in BOOKS), mounts=(f"{CORPUS}:/books:ro",)
    )
    started = time.monotonic()
    most_running, workers = 0, {}
    while _listed_books(stack) < len(BOOKS):
        assert time.monotonic() - started < INGEST_TIMEOUT, f"not all books in the API: {workers}"
        seen = run_workers("ingest_book")
        workers.update({worker["id"]: worker for worker in seen})
        most_running = max(most_running, sum(worker["running"] for worker in seen))
        time.sleep(1)
    seconds = time.monotonic() - started
    run_seconds = json.loads(stack.in_code_server(RUN_TIMES))
    load = float(Path("/proc/loadavg").read_text().split()[0])
    return Ingest(seconds, most_running, workers, run_seconds, load)


@dataclass(frozen=True)
class Spread:
    """The stack as shipped, after it ingested the corpus: what the tests check."""

    ingest: Ingest
    writer_volumes: set[str]  # the volumes of the API, which projects the index
    listed: str  # the API's books, as e2e_client.py prints them


@pytest.fixture(scope="module")
def spread(image: str, tmp_path_factory: pytest.TempPathFactory) -> Spread:
    """The corpus ingested by a stack as shipped: up to 4 runs at once."""
    stack = Stack.create(tmp_path_factory.mktemp("spread"), "hbi-spread")
    try:
        stack.up()
        ingest = _ingest_corpus(stack)
        (api,) = stack.compose("ps", "-q", "hbi-api").stdout.split()
        (writer,) = json.loads(docker("inspect", api).stdout)
        volumes = {m.get("Name", m["Source"]) for m in writer["Mounts"]}
        return Spread(ingest, volumes, stack.client("books", str(len(BOOKS)), timeout=60))
    finally:
        stack.down()


@pytest.fixture(scope="module")
def one_at_a_time(spread: Spread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingest]:
    """The corpus ingested by a fresh stack whose daemon starts one run at a time."""
    folder = tmp_path_factory.mktemp("sequential")
    instance = yaml.safe_load(DAGSTER_YAML.read_text())
    instance["concurrency"]["runs"]["max_concurrent_runs"] = 1
    (folder / "dagster.yaml").write_text(yaml.safe_dump(instance))
    mount = f"{folder / 'dagster.yaml'}:/opt/dagster/dagster_home/dagster.yaml:ro"
    override = {"services": {"dagster-daemon": {"volumes": [mount]}}}
    (folder / "one-run.yml").write_text(yaml.safe_dump(override))
    stack = Stack.create(folder, "hbi-spread")
    stack.overrides.append(folder / "one-run.yml")
    try:
        stack.up()
        yield _ingest_corpus(stack)
    finally:
        stack.down()


@pytest.mark.docker
def test_book_runs_execute_concurrently_in_their_own_containers(spread: Spread) -> None:
    assert len(spread.ingest.workers) == len(BOOKS), spread.ingest.workers
    assert spread.ingest.most_running >= 4, spread.ingest


@pytest.mark.docker
def test_run_containers_share_no_volume_with_the_index_writer(spread: Spread) -> None:
    for worker in spread.ingest.workers.values():
        assert not spread.writer_volumes & set(worker["volumes"]), worker
        assert "hbi_data" not in worker["volumes"], worker


@pytest.mark.docker
def test_api_answers_for_every_book_after_the_spread(spread: Spread) -> None:
    ids = [line.split(":")[0].strip() for line in spread.listed.splitlines()]
    assert len(ids) == len(BOOKS), spread.listed


@pytest.mark.docker
@pytest.mark.benchmark
def test_speedup_over_one_run_at_a_time_is_reported(
    spread: Spread, one_at_a_time: Ingest, capsys: pytest.CaptureFixture[str]
) -> None:
    concurrent = spread.ingest
    assert one_at_a_time.most_running == 1, one_at_a_time
    speedup = one_at_a_time.seconds / concurrent.seconds
    longest = max(one_at_a_time.run_seconds)
    with capsys.disabled():
        print(
            f"\n[spread] {len(BOOKS)} books, upload to all in the API: one run at a time "
            f"{one_at_a_time.seconds:.0f}s (load {one_at_a_time.load:.1f}), up to 4 at once "
            f"{concurrent.seconds:.0f}s (load {concurrent.load:.1f}, at most "
            f"{concurrent.most_running} running): {speedup:.2f}x on this host"
        )
        print(
            f"[spread] runs alone took {sum(one_at_a_time.run_seconds):.0f}s in all, the "
            f"longest {longest:.0f}s; 4 at once {sum(concurrent.run_seconds):.0f}s in all"
        )
        # Each host running one run at a time, as measured: the books divide among the hosts,
        # and no ingest is shorter than its longest book's run.
        for machines in (2, 4, 8):
            bound = min(machines, one_at_a_time.seconds / longest)
            print(
                f"[spread] on {machines} such hosts, one run at a time each: {bound:.1f}x, at most"
            )
    assert speedup > 0
